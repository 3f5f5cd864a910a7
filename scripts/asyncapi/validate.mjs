// Validates AsyncAPI documents with the AsyncAPI initiative's parser
// (@asyncapi/parser: the official AsyncAPI 3.0 JSON Schema from
// @asyncapi/specs, then its semantic rules). Prints one line per document
// and a closing "N passed, N failed" line; exits non-zero if any document
// has an error (a diagnostic of severity 0).
//
//   node scripts/asyncapi/validate.mjs target/asyncapi/*.json
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('validate.mjs: no AsyncAPI document given');
  process.exit(2);
}
const parser = new Parser();
let passed = 0;
let failed = 0;
for (const file of files) {
  const text = await readFile(file, 'utf8');
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const errors = diagnostics.filter((d) => d.severity === 0);
  const warnings = diagnostics.filter((d) => d.severity === 1);
  if (!document || errors.length > 0) {
    failed += 1;
    console.log(`FAIL ${file}`);
    for (const d of errors) {
      console.log(`  ${d.code} at /${d.path.join('/')}: ${d.message}`);
    }
    continue;
  }
  passed += 1;
  const version = document.version();
  const channels = document.channels().length;
  const operations = document.operations().length;
  const messages = document.messages().all();
  // A payload schema says what the value is, beyond a description.
  const typed = messages.filter((m) => {
    const payload = m.payload();
    const json = payload ? payload.json() : {};
    return ['type', 'properties', 'oneOf', 'anyOf', 'allOf', 'enum', 'const'].some((k) => k in json);
  }).length;
  console.log(
    `ok   ${file}: AsyncAPI ${version}, ${channels} channels, ${operations} operations, ` +
      `${messages.length} messages (${typed} with a payload schema), ${warnings.length} warnings`,
  );
  for (const d of warnings) {
    console.log(`  warning ${d.code} at /${d.path.join('/')}: ${d.message}`);
  }
}
console.log(`asyncapi: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

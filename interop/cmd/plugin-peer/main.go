// Command plugin-peer runs the tRPC-Go Kafka plugin
// (trpc.group/trpc-go/trpc-database/kafka) itself, configured by a
// trpc_go.yaml, as the Go side of kafka-rs's interoperability tests and of
// kafka-bench's third side. It reports what the plugin did as JSON lines on
// stdout; it re-implements nothing of the plugin.
//
//	plugin-peer -conf trpc_go.yaml -mode consume [-delay 2ms]
//	plugin-peer -conf trpc_go.yaml -mode produce -service NAME -input records.jsonl [-concurrency 64]
//	plugin-peer -conf trpc_go.yaml -mode bench-consume -n 1000000
//	plugin-peer -conf trpc_go.yaml -mode bench-produce -service NAME -n 100000 [-concurrency 256] [-size 100] [-async]
//
// consume serves every `protocol: kafka` service of the file with one
// handler (the plugin's RegisterKafkaHandlerService on the server, or its
// batch twin when -batch is set) until SIGTERM, and prints one line per
// handled record. produce sends the records of -input through
// kafka.NewClientProxy(-service). The bench modes print one line of figures
// and then wait for stdin to close, so that the parent can read this
// process's CPU time and peak RSS from /proc before it exits.
package main

import (
	"flag"
	"fmt"
	"os"

	trpc "trpc.group/trpc-go/trpc-go"
)

func main() {
	conf := flag.String("conf", "trpc_go.yaml", "the trpc_go.yaml to serve or produce with")
	mode := flag.String("mode", "", "consume, produce, bench-consume or bench-produce")
	service := flag.String("service", "", "produce modes: the client service (its target) to produce with")
	input := flag.String("input", "", "produce: a JSON-lines file of records to send")
	concurrency := flag.Int("concurrency", 1, "produce modes: goroutines sending at once")
	delay := flag.Duration("delay", 0, "consume: how long the handler takes per record")
	batch := flag.Bool("batch", false, "consume modes: register a batch handler (the address needs batch=N)")
	protoValues := flag.Bool("proto", false, "consume: decode each value as a Protobuf google.protobuf.Timestamp and print it")
	count := flag.Int64("n", 0, "bench modes: records to consume or produce")
	size := flag.Int("size", 100, "bench-produce: value size in bytes")
	async := flag.Bool("async", false, "bench-produce: the target has async=1 (acknowledgements come to the callbacks)")
	flag.Parse()

	// The plugin's clients and servers read this file, as trpc.NewServer()
	// reads -conf in a plugin service.
	trpc.ServerConfigPath = *conf
	var err error
	switch *mode {
	case "consume":
		err = consume(*delay, *batch, *protoValues)
	case "produce":
		err = produce(*service, *input, *concurrency)
	case "bench-consume":
		err = benchConsume(*count, *batch)
	case "bench-produce":
		err = benchProduce(*service, *count, *concurrency, *size, *async)
	default:
		err = fmt.Errorf("unknown -mode %q: use consume, produce, bench-consume or bench-produce", *mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugin-peer: %v\n", err)
		os.Exit(1)
	}
}

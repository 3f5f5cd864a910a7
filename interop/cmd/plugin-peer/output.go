package main

import (
	"bufio"
	"encoding/json"
	"os"
	"sync"
)

// lines writes JSON lines to stdout, one whole line at a time, from any
// goroutine; each line is flushed at once so that a test reading the pipe
// sees it while this process runs.
type lines struct {
	mu  sync.Mutex
	out *bufio.Writer
}

var stdout = &lines{out: bufio.NewWriter(os.Stdout)}

func (l *lines) write(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are written
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(data)
	_ = l.out.WriteByte('\n')
	_ = l.out.Flush()
}

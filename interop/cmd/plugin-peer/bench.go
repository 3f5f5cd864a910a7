package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"trpc.group/trpc-go/trpc-database/kafka"
	trpc "trpc.group/trpc-go/trpc-go"
)

// figures is the one line a bench mode prints, in kafka-bench's terms: the
// timed span and the records in it.
type figures struct {
	Event    string  `json:"event"` // "figures"
	Messages int64   `json:"messages"`
	Seconds  float64 `json:"seconds"`
	Failed   int64   `json:"failed"`
}

// benchConsume serves the configuration's consumer services with a no-op
// handler until n records were handled; the span runs from the first
// handled call to the one that reached n (the first call's records
// excluded), as kafka-bench times its own side.
func benchConsume(n int64, batch bool) error {
	if n <= 0 {
		return fmt.Errorf("-mode bench-consume needs -n > 0")
	}
	var (
		count     atomic.Int64
		firstOnce sync.Once
		first     time.Time
		firstN    int64
		done      = make(chan time.Time, 1)
	)
	hit := func(k int64) {
		firstOnce.Do(func() { first, firstN = time.Now(), k })
		after := count.Add(k)
		if after >= n && after-k < n {
			done <- time.Now()
		}
	}
	s := trpc.NewServer()
	if batch {
		kafka.RegisterBatchHandlerService(s, func(_ context.Context, msgs []*sarama.ConsumerMessage) error {
			hit(int64(len(msgs)))
			return nil
		})
	} else {
		kafka.RegisterKafkaHandlerService(s, func(context.Context, *sarama.ConsumerMessage) error {
			hit(1)
			return nil
		})
	}
	go func() {
		if err := s.Serve(); err != nil {
			fmt.Fprintf(os.Stderr, "plugin-peer: serve: %v\n", err)
			os.Exit(1)
		}
	}()
	last := <-done
	stdout.write(figures{Event: "figures", Messages: n - firstN, Seconds: last.Sub(first).Seconds()})
	waitForStdinClose()
	return nil
}

// benchProduce sends n records of `size` bytes through the client service
// from `concurrency` goroutines: synchronous Produce calls, or with `async`
// (async=1 in the target) queued ones, whose acknowledgements (the plugin's
// AsyncProducerSuccCallback / ErrorCallback) end the span.
func benchProduce(service string, n int64, concurrency, size int, async bool) error {
	if service == "" || n <= 0 {
		return fmt.Errorf("-mode bench-produce needs -service and -n > 0")
	}
	trpc.NewServer()
	proxy := kafka.NewClientProxy(service)
	var finished, failed atomic.Int64
	allFinished := make(chan struct{})
	finish := func(ok bool) {
		if !ok {
			failed.Add(1)
		}
		if finished.Add(1) == n {
			close(allFinished)
		}
	}
	kafka.AsyncProducerSuccCallback = func(string, []byte, []byte, []sarama.RecordHeader) { finish(true) }
	kafka.AsyncProducerErrorCallback = func(error, string, []byte, []byte, []sarama.RecordHeader) { finish(false) }
	value := make([]byte, size)
	for i := range value {
		value[i] = 'x'
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < max(concurrency, 1); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				err := proxy.Produce(context.Background(), nil, value)
				// A queued record (async) finishes in a callback.
				if err != nil || !async {
					finish(err == nil)
				}
			}
		}()
	}
	wg.Wait()
	<-allFinished
	elapsed := time.Since(start)
	stdout.write(figures{Event: "figures", Messages: n, Seconds: elapsed.Seconds(), Failed: failed.Load()})
	waitForStdinClose()
	return nil
}

// waitForStdinClose blocks until the parent closes stdin (after reading
// this process's /proc figures).
func waitForStdinClose() {
	_, _ = io.Copy(io.Discard, os.Stdin)
}

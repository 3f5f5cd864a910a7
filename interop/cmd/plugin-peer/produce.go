package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"trpc.group/trpc-go/trpc-database/kafka"
	trpc "trpc.group/trpc-go/trpc-go"
	"trpc.group/trpc-go/trpc-go/codec"
)

// outgoing is one line of the -input file.
type outgoing struct {
	// Topic, when set, sends with SendMessage (which reports the partition
	// and offset); else Produce sends to the target's topic.
	Topic string `json:"topic"`
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
	// Meta is tRPC metadata of the calling context: with trpcMeta=true the
	// plugin writes each entry as a record header.
	Meta map[string][]byte `json:"meta"`
	// Proto, when set, replaces Value with this google.protobuf.Timestamp
	// encoded by the Protobuf runtime.
	Proto *stamp `json:"proto"`
}

// sent is the line printed for every record the plugin acknowledged.
type sent struct {
	Event     string `json:"event"` // "sent"
	Index     int    `json:"index"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// produce sends every record of input through the client service, from
// `concurrency` goroutines, and prints what the plugin acknowledged.
func produce(service, input string, concurrency int) error {
	if service == "" || input == "" {
		return fmt.Errorf("-mode produce needs -service and -input")
	}
	records, err := readRecords(input)
	if err != nil {
		return err
	}
	// Loads the configuration's client services, as a plugin program does.
	trpc.NewServer()
	proxy := kafka.NewClientProxy(service)
	next := make(chan int)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for g := 0; g < max(concurrency, 1); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := send(proxy, i, records[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range records {
			select {
			case next <- i:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		stdout.write(map[string]any{"event": "done", "records": len(records)})
		return nil
	}
}

func send(proxy kafka.Client, i int, r outgoing) error {
	ctx, msg := codec.WithNewMessage(context.Background())
	if len(r.Meta) > 0 {
		// The plugin forwards the calling context's metadata (what
		// trpc.SetMetaData set in a handler) as the call's metadata.
		msg.WithServerMetaData(codec.MetaData(r.Meta))
	}
	line := sent{Event: "sent", Index: i, Partition: -1, Offset: -1}
	var err error
	if r.Proto != nil {
		r.Value, err = proto.Marshal(&timestamppb.Timestamp{Seconds: r.Proto.Seconds, Nanos: r.Proto.Nanos})
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	if r.Topic != "" {
		line.Partition, line.Offset, err = proxy.SendMessage(ctx, r.Topic, r.Key, r.Value)
	} else {
		err = proxy.Produce(ctx, r.Key, r.Value)
	}
	if err != nil {
		return fmt.Errorf("record %d: %w", i, err)
	}
	stdout.write(line)
	return nil
}

func readRecords(path string) ([]outgoing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var records []outgoing
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var r outgoing
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, len(records)+1, err)
		}
		records = append(records, r)
	}
	return records, scanner.Err()
}

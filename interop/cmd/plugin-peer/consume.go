package main

import (
	"context"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"trpc.group/trpc-go/trpc-database/kafka"
	trpc "trpc.group/trpc-go/trpc-go"
	"trpc.group/trpc-go/trpc-go/codec"
)

// handled is the line printed for every record a handler saw.
type handled struct {
	Event      string            `json:"event"` // "record"
	Member     string            `json:"member"`
	Generation int32             `json:"generation"`
	Topic      string            `json:"topic"`
	Partition  int32             `json:"partition"`
	Offset     int64             `json:"offset"`
	Key        []byte            `json:"key"`
	Value      []byte            `json:"value"`
	Headers    []header          `json:"headers"`
	Meta       map[string][]byte `json:"meta"`
	// When the handler started and returned, Unix nanoseconds (the clock
	// the Rust side stamps its own records with).
	StartNs int64 `json:"start_ns"`
	EndNs   int64 `json:"end_ns"`
	// With -proto: the value decoded as a google.protobuf.Timestamp, or
	// why it did not decode.
	Decoded     *stamp `json:"decoded,omitempty"`
	DecodeError string `json:"decode_error,omitempty"`
}

// stamp is a google.protobuf.Timestamp's fields, as the tests compare them.
type stamp struct {
	Seconds int64 `json:"seconds"`
	Nanos   int32 `json:"nanos"`
}

type header struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// consume serves every Kafka service of the configuration until SIGTERM;
// with protoValues each value is decoded with the Protobuf runtime.
func consume(delay time.Duration, batch, protoValues bool) error {
	s := trpc.NewServer()
	if batch {
		kafka.RegisterBatchHandlerService(s, func(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
			start := time.Now()
			time.Sleep(delay * time.Duration(len(msgs)))
			for _, m := range msgs {
				report(ctx, m, start, protoValues)
			}
			return nil
		})
	} else {
		kafka.RegisterKafkaHandlerService(s, func(ctx context.Context, m *sarama.ConsumerMessage) error {
			start := time.Now()
			time.Sleep(delay)
			report(ctx, m, start, protoValues)
			return nil
		})
	}
	return s.Serve()
}

// report prints one handled record with the member and generation that
// handled it, as the plugin exposes them (GetRawSaramaContext).
func report(ctx context.Context, m *sarama.ConsumerMessage, start time.Time, protoValues bool) {
	line := handled{
		Event:     "record",
		Topic:     m.Topic,
		Partition: m.Partition,
		Offset:    m.Offset,
		Key:       m.Key,
		Value:     m.Value,
		Meta:      map[string][]byte(codec.Message(ctx).ServerMetaData()),
		StartNs:   start.UnixNano(),
		EndNs:     time.Now().UnixNano(),
	}
	if raw, ok := kafka.GetRawSaramaContext(ctx); ok {
		line.Member = raw.Session.MemberID()
		line.Generation = raw.Session.GenerationID()
	}
	for _, h := range m.Headers {
		line.Headers = append(line.Headers, header{Key: h.Key, Value: h.Value})
	}
	if protoValues {
		var ts timestamppb.Timestamp
		if err := proto.Unmarshal(m.Value, &ts); err != nil {
			line.DecodeError = err.Error()
		} else {
			line.Decoded = &stamp{Seconds: ts.GetSeconds(), Nanos: ts.GetNanos()}
		}
	}
	stdout.write(line)
}

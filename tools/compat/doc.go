// Package compat holds Strom's compatibility suite: tests that drive real
// Kafka clients (librdkafka through kcat, kafka-python, kafkajs, franz-go,
// sarama and segmentio/kafka-go) against a broker and check that every
// record they produce comes back byte-identical and in order, for every
// compression codec each client supports.
//
// The package has no exported API; everything lives in its tests. The
// broker under test is started by startBroker in broker_test.go, the one
// place to change when the broker changes. See README.md for the client and
// codec matrix and how to install the clients (make test-deps).
package compat

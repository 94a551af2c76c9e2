package controller

import (
	"fmt"
	"strings"
)

// MaxTopicNameLength is Kafka's limit: 249, so that "<topic>-<partition>"
// directory names fit in 255 bytes. Part of the naming rules.
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's rules: 1 to 249 characters from
// [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("topic name is empty: %w", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("topic name cannot be %q: %w", name, ErrInvalidTopicName)
	case len(name) > MaxTopicNameLength:
		return fmt.Errorf("topic name is %d characters, the limit is %d: %w", len(name), MaxTopicNameLength, ErrInvalidTopicName)
	}
	for i := 0; i < len(name); i++ {
		if !legalTopicByte(name[i]) {
			return fmt.Errorf("topic name %q contains %q; legal are ASCII letters, digits, '.', '_' and '-': %w",
				name, name[i], ErrInvalidTopicName)
		}
	}
	return nil
}

func legalTopicByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// HasCollisionChars reports whether name contains '.' or '_', the characters
// Kafka's metric names cannot tell apart (Kafka warns when creating such a
// topic).
func HasCollisionChars(name string) bool { return strings.ContainsAny(name, "._") }

// TopicNamesCollide reports whether two different names become equal when
// '.' is replaced by '_'.
func TopicNamesCollide(a, b string) bool {
	return a != b && collisionKey(a) == collisionKey(b)
}

func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// checkCollision fails with ErrTopicNameCollision if name collides with one
// of existing.
func checkCollision(name string, existing []string) error {
	if !HasCollisionChars(name) {
		return nil
	}
	for _, e := range existing {
		if TopicNamesCollide(name, e) {
			return fmt.Errorf("topic %q collides with existing topic %q: %w", name, e, ErrTopicNameCollision)
		}
	}
	return nil
}

package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"orders", true},
		{"Orders-2024_v1.0", true},
		{"__consumer_offsets", true},
		{"...", true},
		{strings.Repeat("x", 249), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", 250), false},
		{"a/b", false},
		{"a b", false},
		{"a:b", false},
		{"tôpic", false},
		{"a\x00", false},
		{"a+b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicName(tt.name)
			if tt.valid {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidTopicName)
			}
		})
	}
}

func TestTopicNameCollisions(t *testing.T) {
	tests := []struct {
		a, b    string
		collide bool
	}{
		{"a.b", "a_b", true},
		{"a_b", "a.b", true},
		{"x.y_z", "x_y.z", true},
		{"a.b", "a.b", false}, // the same name is "exists", not a collision
		{"a.b", "a-b", false},
		{"ab", "a_b", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.collide, TopicNamesCollide(tt.a, tt.b), "%s vs %s", tt.a, tt.b)
	}
	assert.True(t, HasCollisionChars("a.b"))
	assert.True(t, HasCollisionChars("a_b"))
	assert.False(t, HasCollisionChars("a-b"))

	err := checkCollision("metrics.cpu", []string{"other", "metrics_cpu"})
	assert.ErrorIs(t, err, ErrTopicNameCollision)
	assert.ErrorIs(t, err, ErrInvalidTopicName, "a collision is an invalid name for the error mapping")
	assert.NoError(t, checkCollision("metrics.cpu", []string{"metrics-cpu"}))
}

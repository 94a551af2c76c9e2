package logmgr

import (
	"errors"
	"fmt"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/partlog"
)

// ErrConfigNotApplied is returned when a new config was stored (and will
// apply to logs opened later) but could not be applied to an open log
// because the partition log does not support runtime reconfiguration.
var ErrConfigNotApplied = errors.New("logmgr: config not applied to an open log")

// reconfigurable is what an open log must offer for SetTopicConfig and
// SetDefaultConfig to reach it.
type reconfigurable interface {
	SetConfig(partlog.Config) error
}

// TopicConfig returns topic's effective config: its override, else the
// default.
func (m *Manager) TopicConfig(topic string) partlog.Config { return m.topicConfig(topic) }

// SetTopicConfig sets topic's override and applies it to the topic's open
// logs.
func (m *Manager) SetTopicConfig(topic string, cfg partlog.Config) error {
	if !checkpoint.ValidTopic(topic) {
		return fmt.Errorf("%w: %q", ErrInvalidPartition, topic)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("logmgr: config of topic %s: %w", topic, err)
	}
	m.mu.Lock()
	m.mu.topics[topic] = cfg
	m.mu.Unlock()
	return m.applyConfigs(func(tp TopicPartition) bool { return tp.Topic == topic })
}

// DeleteTopicConfig drops topic's override; its logs revert to the
// default.
func (m *Manager) DeleteTopicConfig(topic string) error {
	m.mu.Lock()
	delete(m.mu.topics, topic)
	m.mu.Unlock()
	return m.applyConfigs(func(tp TopicPartition) bool { return tp.Topic == topic })
}

// SetDefaultConfig replaces the default config (dynamic broker log.*
// settings) and applies it to every open log without an override.
func (m *Manager) SetDefaultConfig(cfg partlog.Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("logmgr: default config: %w", err)
	}
	m.mu.Lock()
	m.mu.defaults = cfg
	m.mu.Unlock()
	return m.applyConfigs(func(TopicPartition) bool { return true })
}

// applyConfigs gives each open log selected by match its effective config.
func (m *Manager) applyConfigs(match func(TopicPartition) bool) error {
	type change struct {
		p   *partition
		cfg partlog.Config
	}
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.ops.Add(1)
	defer m.ops.Done()
	var changes []change
	for tp, p := range m.mu.logs {
		if match(tp) {
			changes = append(changes, change{p, m.topicConfigLocked(tp.Topic)})
		}
	}
	m.mu.Unlock()
	var errs []error
	for _, c := range changes {
		if c.p.log.Config() == c.cfg {
			continue
		}
		r, ok := any(c.p.log).(reconfigurable)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s (partlog.Log has no SetConfig)", ErrConfigNotApplied, c.p.tp))
			continue
		}
		if err := r.SetConfig(c.cfg); err != nil && !errors.Is(err, partlog.ErrClosed) {
			errs = append(errs, fmt.Errorf("logmgr: reconfigure %s: %w", c.p.tp, err))
		}
	}
	return errors.Join(errs...)
}

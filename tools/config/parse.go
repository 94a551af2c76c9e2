package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strom-broker/strom/tools/properties"
)

// Parse reads server.properties text from r; source names it in errors
// (e.g. the file name). Only keys present are set: call EnsureDefaults and
// Validate afterwards (or use Load).
func Parse(r io.Reader, source string) (*Config, error) {
	props, err := properties.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	c := New()
	for _, p := range props {
		if err := c.set(p.Key, p.Value, fmt.Sprintf("%s:%d", source, p.Line)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseFile is Parse on the named file.
func ParseFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Set sets one key from its text, as a line of server.properties would.
// It returns a *KeyError wrapping ErrUnknownKey or ErrBadValue.
func (c *Config) Set(key, value string) error { return c.set(key, value, "") }

// ApplyOverrides applies "key=value" arguments (the server's --override
// flags) on top of what is set, in order.
func (c *Config) ApplyOverrides(overrides []string) error {
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--override %q: %w: want key=value", o, ErrBadOverride)
		}
		if err := c.set(strings.TrimSpace(k), v, "--override"); err != nil {
			return err
		}
	}
	return nil
}

// Load reads path (none when path is ""), applies overrides, fills defaults
// and validates: what `strom server` does.
func Load(path string, overrides []string) (*Config, error) {
	c := New()
	if path != "" {
		var err error
		if c, err = ParseFile(path); err != nil {
			return nil, err
		}
	}
	if err := c.ApplyOverrides(overrides); err != nil {
		return nil, err
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) set(key, value, source string) error {
	if c.raw == nil {
		c.raw, c.explicit = map[string]string{}, map[string]bool{}
	}
	s, ok := specByName[key]
	if !ok {
		return &KeyError{Key: key, Source: source, Suggestion: suggest(key), Err: ErrUnknownKey}
	}
	v := strings.TrimSpace(value)
	if err := s.set(c, v); err != nil {
		return &KeyError{Key: key, Value: value, Source: source, Reason: err.Error(), Err: ErrBadValue}
	}
	c.raw[key] = v
	c.explicit[key] = true
	return nil
}

// applyDefault sets key from its default text; defaults are known-good, so
// a failure is a bug in the spec table.
func (c *Config) applyDefault(key, value string) {
	if err := specByName[key].set(c, value); err != nil {
		panic(errors.Join(fmt.Errorf("config: bad default for %s", key), err))
	}
	c.raw[key] = value
}

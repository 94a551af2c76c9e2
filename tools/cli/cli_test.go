package cli

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/config"
)

func TestDispatch(t *testing.T) {
	var ran bool
	strom := Main(Commands(func(context.Context, *config.Config, *slog.Logger) error { ran = true; return nil }))

	r := clitest.Run(t, strom, "", "--help")
	clitest.RequireOK(t, r)
	for _, c := range Commands(func(context.Context, *config.Config, *slog.Logger) error { return nil }) {
		assert.Contains(t, r.Stdout, "  "+c.Name+" ")
	}

	r = clitest.Run(t, strom, "")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Usage: strom COMMAND")

	clitest.RequireOneLineError(t, clitest.Run(t, strom, "", "topicz"), `unknown command "topicz"`)

	r = clitest.Run(t, strom, "", "server", "--override", "broker.id=2")
	clitest.RequireOK(t, r)
	assert.True(t, ran)

	r = clitest.Run(t, strom, "", "topics", "--help")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "Usage: strom topics")
}

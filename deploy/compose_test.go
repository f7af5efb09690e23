// Package deploy holds the production compose's configuration files and the checks
// that keep docker-compose.yml and .env.example in step where no Docker client is
// present to validate them.
package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type compose struct {
	Services map[string]struct {
		ContainerName string         `yaml:"container_name"`
		Ports         []string       `yaml:"ports"`
		Healthcheck   map[string]any `yaml:"healthcheck"`
		DependsOn     map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestComposeShape(t *testing.T) {
	var c compose
	require.NoError(t, yaml.Unmarshal([]byte(read(t, "../docker-compose.yml")), &c))

	for _, name := range []string{"postgresql", "temporal", "worker", "api"} {
		require.Contains(t, c.Services, name)
		assert.NotEmpty(t, c.Services[name].Healthcheck, "%s has no health check", name)
	}
	w := c.Services["worker"]
	assert.Empty(t, w.ContainerName, "a fixed name stops --scale worker=N")
	assert.Empty(t, w.Ports, "a published port stops --scale worker=N")
	for _, name := range []string{"worker", "api", "temporal-ui"} {
		assert.Equal(t, "service_healthy", c.Services[name].DependsOn["temporal"].Condition,
			"%s must wait for a healthy Temporal", name)
	}
}

var composeVar = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`)

// TestEnvExampleDocumentsComposeVariables: every variable the compose file reads is
// in .env.example.
func TestEnvExampleDocumentsComposeVariables(t *testing.T) {
	example := read(t, "../.env.example")
	for _, m := range composeVar.FindAllStringSubmatch(read(t, "../docker-compose.yml"), -1) {
		assert.True(t, strings.Contains(example, "\n"+m[1]+"="),
			"%s is used in docker-compose.yml but not in .env.example", m[1])
	}
}

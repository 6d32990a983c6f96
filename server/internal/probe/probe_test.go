package probe

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricJSON(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{1.5, `1.5`}, {math.Inf(1), `"+Inf"`}, {math.Inf(-1), `"-Inf"`}, {math.NaN(), `"NaN"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Result{Metrics: []Metric{{Name: "dr_x", Type: "gauge", Value: tt.v}}})
		require.NoError(t, err)
		assert.Contains(t, string(b), `"value":`+tt.want)
		assert.Contains(t, string(b), `"name":"dr_x"`)
	}
}

func TestWorstAndAdd(t *testing.T) {
	assert.Equal(t, Critical, Worst(Healthy, Unknown, Critical, Degraded))
	assert.Equal(t, Unknown, Worst(Healthy, Unknown, Degraded))
	assert.Equal(t, NotConfigured, Worst())
	r := Result{State: Healthy}
	r.Add(Degraded, "fix it", "lagging")
	r.Add(Healthy, "", "fine part")
	assert.Equal(t, Degraded, r.State)
	r.SortFindings()
	assert.Equal(t, "lagging", r.Findings[0].Message)
}

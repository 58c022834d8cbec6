package bench

import (
	"errors"
	"fmt"
	"io"

	chart "github.com/wcharczuk/go-chart/v2"
)

// WritePlot draws the run's memory over time as a PNG (operators would
// rather look than read): the resident set, its anonymous part and the
// live heap, in MB, over the seconds of the run after the warm-up.
func WritePlot(w io.Writer, m *MemoryStats) error {
	if m == nil || len(m.Curve) < 2 {
		return errors.New("bench: plot: fewer than two memory samples (a run of at least two seconds after the warm-up)")
	}
	xs := make([]float64, len(m.Curve))
	rss := make([]float64, len(m.Curve))
	anon := make([]float64, len(m.Curve))
	heap := make([]float64, len(m.Curve))
	data := make([]float64, len(m.Curve))
	for i, p := range m.Curve {
		xs[i], rss[i], heap[i] = p.Seconds, float64(p.RSS)/(1<<20), float64(p.HeapLive)/(1<<20)
		anon[i], data[i] = float64(p.RSSAnon)/(1<<20), float64(p.DataFile)/(1<<20)
	}
	title := fmt.Sprintf("memory over %.0f s (a run under a minute has no growth figure)", xs[len(xs)-1])
	if m.RSSSecondMinute > 0 {
		title = fmt.Sprintf("RSS %+.1f%% after the first minute (medians)", m.RSSGrowthAfterMinute)
	}
	g := chart.Chart{
		Title:  title,
		Width:  1024,
		Height: 480,
		XAxis:  chart.XAxis{Name: "seconds"},
		YAxis:  chart.YAxis{Name: "MB"},
		Series: []chart.Series{
			chart.ContinuousSeries{Name: "resident set (MB)", XValues: xs, YValues: rss},
			chart.ContinuousSeries{Name: "live heap (MB)", XValues: xs, YValues: heap},
		},
	}
	if m.RSSAnonSecondMinute > 0 {
		// Below the resident set: what is left of it without the mapped
		// files' pages.
		g.Series = append(g.Series, chart.ContinuousSeries{Name: "its anonymous part (MB)", XValues: xs, YValues: anon})
	}
	if m.DataFileLast > 0 {
		// On an axis of its own: the file grows to many times the
		// resident set, which would flatten the curves that matter.
		g.YAxisSecondary = chart.YAxis{Name: "data file MB"} // go-chart draws the secondary axis on the left
		g.Series = append(g.Series, chart.ContinuousSeries{Name: "data file (MB, left axis)", XValues: xs, YValues: data, YAxis: chart.YAxisSecondary})
	}
	g.Elements = []chart.Renderable{chart.Legend(&g)}
	if err := g.Render(chart.PNG, w); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return nil
}

package backup

import (
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a run, in order.
const (
	PhaseStarting  = "starting"
	PhaseDatabase  = "database"
	PhaseBase      = "base"
	PhaseConfig    = "config"
	PhaseFiles     = "files"
	PhaseFinishing = "finishing"
	PhaseDone      = "done"
	PhaseFailed    = "failed"
)

// Progress is a snapshot of a running backup.
type Progress struct {
	Phase        string
	BytesRead    int64 // plain bytes read from the database, the config and the files so far
	BytesWritten int64 // bytes stored (compressed, encrypted), counted once whatever the number of destinations
	FilesDone    int64 // files indexed so far
	FilesTotal   int64 // files found so far; final once FilesCounted
	FilesCounted bool  // the file walk has finished
	// Percent of the files phase, from FilesDone/FilesTotal once the walk has finished; -1
	// when unknown (the database dump's size is not known in advance).
	Percent float64
	Elapsed time.Duration
}

// progressInterval throttles Options.Progress.
const progressInterval = 500 * time.Millisecond

// reporter collects counters from every goroutine and calls the callback from its own.
type reporter struct {
	fn    func(Progress)
	now   func() time.Time
	began time.Time

	read, written, filesDone, filesTotal atomic.Int64
	counted                              atomic.Bool

	mu      sync.Mutex
	current string
	kick    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
	last    Progress
	stopped bool
}

func newReporter(fn func(Progress), now func() time.Time) *reporter {
	return &reporter{fn: fn, now: now, current: PhaseStarting, kick: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (p *reporter) start() {
	p.began = p.now()
	if p.fn == nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				p.report(true)
				return
			case <-p.kick:
				p.report(true)
			case <-t.C:
				p.report(false)
			}
		}
	}()
}

func (p *reporter) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	close(p.quit)
	p.wg.Wait()
}

func (p *reporter) phase(name string) {
	p.mu.Lock()
	p.current = name
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *reporter) snapshot() Progress {
	p.mu.Lock()
	phase := p.current
	p.mu.Unlock()
	s := Progress{
		Phase:        phase,
		BytesRead:    p.read.Load(),
		BytesWritten: p.written.Load(),
		FilesDone:    p.filesDone.Load(),
		FilesTotal:   p.filesTotal.Load(),
		FilesCounted: p.counted.Load(),
		Percent:      -1,
		Elapsed:      p.now().Sub(p.began),
	}
	switch {
	case phase == PhaseFiles && s.FilesCounted && s.FilesTotal > 0:
		s.Percent = 100 * float64(s.FilesDone) / float64(s.FilesTotal)
	case phase == PhaseFiles && s.FilesCounted:
		s.Percent = 100
	case phase == PhaseFinishing || phase == PhaseDone:
		s.Percent = 100
	}
	return s
}

func (p *reporter) report(force bool) {
	s := p.snapshot()
	cmp := s
	cmp.Elapsed = p.last.Elapsed
	if !force && cmp == p.last {
		return
	}
	p.last = s
	p.fn(s)
}

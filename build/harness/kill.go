package harness

import "syscall"

// Kill ends the server and its plugin processes with SIGKILL, as a lost machine would: no
// clean shutdown, nothing flushed.
func (mm *Mattermost) Kill() {
	if mm != nil && mm.proc != nil {
		mm.proc.stop(syscall.SIGKILL, 0)
	}
}

// Kill ends the cluster with SIGKILL (postmaster and backends), as a lost machine would: no
// checkpoint, no WAL sent after that instant.
func (pg *Postgres) Kill() {
	if pg != nil && pg.proc != nil {
		pg.proc.stop(syscall.SIGKILL, 0)
	}
}

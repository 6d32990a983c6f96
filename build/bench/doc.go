// Package bench is the backup benchmark (`make bench`): on a real PostgreSQL + Mattermost
// started by build/harness, it generates a reference set (posts and replies in the database,
// files in Mattermost's data folder), then times, in the same run, the plugin's full backup to
// a local folder, the admin's serial baseline (pg_dump -Fc, then tar czf of the data folder)
// and the plugin's incremental backup after 1% of the files changed, and samples the plugin
// process's peak RSS at two data sizes. Against the peers an admin would pick, it also times
// pgBackRest (full, then incr) of the cluster plus restic of the data folder on the same set,
// and the restore of each against drctl restore. It prints one table and writes it to dist/bench.txt.
//
// The benchmark lives in files with the build tag "bench":
//
//	go test -tags bench -run '^$' -bench BenchmarkBackup -benchtime 1x -timeout 0 ./build/bench/
//
// DR_BENCH_SCALE sizes the reference set: 1 (the default) is at least 1 GiB of database and
// 2 GiB of files in at least 20,000 files; 0.05 is a quick run.
package bench

//go:build bench

package bench

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// The reference set at scale 1: the issue's "at least 1 GB of database and 2 GB of files in at
// least 20,000 files". Database size is pg_database_size (tables, TOAST and indexes).
const (
	refDatabaseBytes = 1 << 30
	refFileBytes     = 2 << 30
	refFileCount     = 20000
	benchSeed        = 20240601
)

// chatWords is the vocabulary of generated posts and text files. Earlier words are picked more
// often (random()^2), so that the text has the skewed word frequencies of real chat and
// compresses like it.
var chatWords = strings.Fields(`
the to and a of I it is that you for in on we this be with have it's not can just
will so do are at if but was as what there or all from me my they about get think
should yes ok thanks we're need one like know up out now they'll our an would see
let's make sure can't don't doesn't here time go also release deploy today tomorrow
yesterday meeting please team build test fix bug issue PR merge branch review
approved LGTM ship it prod staging server database backup restore cluster node
down up again error log logs config setting settings users user channel post message
thread reply file upload link https://github.com/mattermost/mattermost/pull/
customer ticket support incident on-call alert page paged latency CPU memory disk
migration schema index query slow fast timeout retry job queue worker cache
@here @channel @alice @bob @carol @dave @erin :+1: :tada: :eyes: :thinking: lol
sounds good great nice thank you sorry late running minutes hour week sprint
planning retro standup notes doc draft spec design proposal feedback comment
agree disagree maybe probably definitely check checked looking look into
investigate root cause mitigation rollback roll back hotfix patch version
v9.5 v10.10 v11.4 upgrade downgrade plugin webhook integration bot command slash
API endpoint request response 500 404 403 200 JSON payload field value null
Kubernetes pod container helm chart ingress load balancer DNS TLS certificate
expired rotate key secret token password SSO SAML LDAP login sign-in session
mobile desktop browser Chrome Firefox Safari iOS Android push notification email
metrics dashboard Grafana Prometheus graph spike drop weird interesting anyway
btw fyi imo afaik tbh asap eod eta wip ptal nit typo rename refactor cleanup
lunch coffee break vacation holiday OOO back Monday Tuesday Wednesday Thursday
Friday weekend morning afternoon evening tonight later soon ASAP first second
then after before because since while until unless though although however
more less most least better worse best worst big small large huge tiny new old
`)

// generator builds the reference set step by step: Grow(fraction) brings the database and the
// files to that fraction of the target. Everything it writes follows a fixed seed.
type generator struct {
	env   *harness.Env
	db    *sql.DB
	scale float64
	log   func(string, ...any)

	channels     []string // ids of real channels of the harness's team
	users        []string // ids of real users
	templatePost string   // id of a real post, copied for every generated one
	templateFile string   // id of a real FileInfo row, copied likewise

	nextPost int64 // next g of generate_series
	replies  int64

	rng    *rand.Rand
	chacha *rand.ChaCha8
	files  []genFile
	bytes  int64
	text   int64 // bytes of text-like files
	buf    []byte
}

type genFile struct {
	rel  string // below the data folder
	size int64
	text bool
}

func newGenerator(ctx context.Context, env *harness.Env, db *sql.DB, scale float64, log func(string, ...any)) (*generator, error) {
	g := &generator{env: env, db: db, scale: scale, log: log}
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("dr-bench-%d", benchSeed))
	g.chacha = rand.NewChaCha8(seed)
	g.rng = rand.New(g.chacha)
	if err := g.prepare(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// prepare creates the channels and users posts are spread over, and one real post and one real
// file (through the REST API) whose rows are the templates of the generated ones.
func (g *generator) prepare(ctx context.Context) error {
	c := g.env.Admin.Client
	for i := range 20 {
		ch, _, err := c.CreateChannel(ctx, &model.Channel{TeamId: g.env.Team.Id, Name: fmt.Sprintf("bench-%02d", i),
			DisplayName: fmt.Sprintf("Bench %02d", i), Type: model.ChannelTypeOpen})
		if err != nil {
			return fmt.Errorf("create channel: %w", err)
		}
		g.channels = append(g.channels, ch.Id)
	}
	g.channels = append(g.channels, g.env.TownSquare(ctx))
	// 200 users, copied from the harness's member by SQL (as the SSO scale test does): creating
	// them through REST would spend its time hashing passwords.
	if _, err := g.db.ExecContext(ctx, `INSERT INTO users
		SELECT p.* FROM users u, generate_series(1, 200) n,
		LATERAL jsonb_populate_record(u, jsonb_build_object(
			'id', substr(md5('drbench-user-' || n), 1, 26),
			'username', 'bench' || lpad(n::text, 4, '0'),
			'email', 'bench' || n || '@example.com',
			'createat', u.createat + n, 'updateat', u.updateat + n)) p
		WHERE u.id = $1`, g.env.Member.Id); err != nil {
		return fmt.Errorf("insert users: %w", err)
	}
	rows, err := g.db.QueryContext(ctx, `SELECT id FROM users WHERE username LIKE 'bench%' OR id IN ($1, $2) ORDER BY id`, g.env.Admin.Id, g.env.Member.Id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		g.users = append(g.users, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	post, _, err := c.CreatePost(ctx, &model.Post{ChannelId: g.channels[0], Message: "template"})
	if err != nil {
		return fmt.Errorf("create the template post: %w", err)
	}
	g.templatePost = post.Id
	up, _, err := c.UploadFile(ctx, []byte("template\n"), g.channels[0], "template.txt")
	if err != nil {
		return fmt.Errorf("upload the template file: %w", err)
	}
	if len(up.FileInfos) != 1 {
		return fmt.Errorf("upload the template file: %d file infos in the answer", len(up.FileInfos))
	}
	g.templateFile = up.FileInfos[0].Id
	return nil
}

// Grow brings the database and the file store to fraction (0..1] of the reference set.
func (g *generator) Grow(ctx context.Context, fraction float64) error {
	t0 := time.Now()
	if err := g.growDatabase(ctx, int64(fraction*g.scale*refDatabaseBytes)); err != nil {
		return err
	}
	g.log("database grown to %s in %.0fs", human(g.databaseSize(ctx)), time.Since(t0).Seconds())
	t0 = time.Now()
	count := int(math.Ceil(fraction * g.scale * refFileCount))
	if err := g.growFiles(ctx, count, int64(fraction*g.scale*refFileBytes)); err != nil {
		return err
	}
	g.log("files grown to %d (%s) in %.0fs", len(g.files), human(g.bytes), time.Since(t0).Seconds())
	return nil
}

func (g *generator) databaseSize(ctx context.Context) int64 {
	var n int64
	_ = g.db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n
}

// growDatabase inserts posts until pg_database_size reaches target. Each batch is one INSERT …
// SELECT over generate_series that copies the template post with jsonb_populate_record (so
// that every column Mattermost has keeps the template's value unless set here): post g
// belongs to thread group g/8, whose first post is a root and whose next 0 to 5 posts reply
// to it (about 30% replies, in that root's channel); the message is 1 to 40 words (six times
// longer one post in 50) drawn from chatWords with PostgreSQL's random(), seeded, with a number
// or a hex token now and then.
func (g *generator) growDatabase(ctx context.Context, target int64) error {
	conn, err := g.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT setseed($1)`, float64(benchSeed%1000)/1000); err != nil {
		return err
	}
	// The row is built in a LATERAL jsonb_populate_record: (jsonb_populate_record(…)).* in
	// the select list would call it once per column.
	const insert = `INSERT INTO posts
		SELECT p.*
		FROM posts t, generate_series($2::bigint, $3::bigint) g
		CROSS JOIN LATERAL (
			SELECT string_agg(word, ' ') AS msg FROM (
				SELECT CASE WHEN r < 0.04 THEN floor(random() * 100000)::text      -- ticket numbers, counts, ports
					WHEN r < 0.06 THEN substr(md5(random()::text), 1, 7)            -- commit hashes, ids, typos
					ELSE ($1::text[])[1 + floor(random() ^ 2 * cardinality($1::text[]))::int] END AS word
				FROM (SELECT random() AS r
					FROM generate_series(1, (1 + ((g * 7919) % 1000) ^ 2 / 25000)::int * CASE WHEN g % 50 = 0 THEN 6 ELSE 1 END)) n
			) words
		) m,
		LATERAL jsonb_populate_record(t, jsonb_build_object(
			'id', substr(md5('drbench-post-' || g), 1, 26),
			'createat', $4::bigint + g * 10000, 'updateat', $4::bigint + g * 10000, 'editat', 0, 'deleteat', 0,
			'userid', ($5::text[])[1 + (g * 2654435761) % cardinality($5::text[])],
			'channelid', ($6::text[])[1 + ((g / 8) * 40503) % cardinality($6::text[])],
			'rootid', CASE WHEN g % 8 BETWEEN 1 AND ((g / 8) * 7919) % 6 THEN substr(md5('drbench-post-' || (g - g % 8)), 1, 26) ELSE '' END,
			'originalid', '', 'type', '', 'props', '{}'::jsonb, 'hashtags', '', 'filenames', '[]', 'fileids', '[]',
			'ispinned', false, 'hasreactions', false, 'message', m.msg)) p
		WHERE t.id = $7`
	base := time.Date(2023, 6, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	size := g.databaseSize(ctx)
	batch := int64(20000)
	for first := true; first || size < target; first = false {
		t0 := time.Now()
		from, to := g.nextPost, g.nextPost+batch-1
		if _, err := conn.ExecContext(ctx, insert, chatWords, from, to, base, g.users, g.channels, g.templatePost); err != nil {
			return fmt.Errorf("insert posts: %w", err)
		}
		g.nextPost = to + 1
		newSize := g.databaseSize(ctx)
		perRow := float64(newSize-size) / float64(batch)
		g.log("posts %d..%d: %s, database %s (%.0f rows/s)", from, to, human(newSize-size), human(newSize), float64(batch)/time.Since(t0).Seconds())
		size = newSize
		if perRow <= 0 {
			perRow = 500
		}
		batch = min(max(int64(float64(target-size)/perRow*1.02), 1000), 250000)
	}
	// Threads, as Mattermost keeps them for collapsed reply threads.
	if _, err := conn.ExecContext(ctx, `INSERT INTO threads (postid, replycount, lastreplyat, participants, channelid, threaddeleteat, threadteamid)
		SELECT rootid, count(*), max(createat), jsonb_agg(DISTINCT userid), min(channelid), 0, $1 FROM posts
		WHERE rootid <> '' GROUP BY rootid
		ON CONFLICT (postid) DO UPDATE SET replycount = EXCLUDED.replycount, lastreplyat = EXCLUDED.lastreplyat, participants = EXCLUDED.participants`, g.env.Team.Id); err != nil {
		return fmt.Errorf("insert threads: %w", err)
	}
	return conn.QueryRowContext(ctx, `SELECT count(*) FROM posts WHERE rootid <> ''`).Scan(&g.replies)
}

// Kinds of generated files: half of them random bytes (images, archives, video, PDFs: already
// compressed), half text (logs, CSV, JSON, notes).
var (
	binaryKinds = []struct{ ext, mime, name string }{
		{"jpg", "image/jpeg", "IMG_%04d"}, {"png", "image/png", "Screenshot %04d"}, {"zip", "application/zip", "export-%04d"},
		{"mp4", "video/mp4", "recording-%04d"}, {"pdf", "application/pdf", "report-%04d"},
	}
	textKinds = []struct{ ext, mime, name string }{
		{"log", "text/plain", "server-%04d"}, {"csv", "text/csv", "metrics-%04d"}, {"json", "application/json", "payload-%04d"},
		{"txt", "text/plain", "notes-%04d"}, {"md", "text/markdown", "runbook-%04d"},
	}
)

// fileSize draws a size: 65% small (1-32 KiB), 30% medium (32-256 KiB), 5% large (0.5-2 MiB):
// about 120 KB on average, so 20,000 files are a little over 2 GiB.
func (g *generator) fileSize() int64 {
	switch p := g.rng.Float64(); {
	case p < 0.65:
		return 1<<10 + g.rng.Int64N(31<<10)
	case p < 0.95:
		return 32<<10 + g.rng.Int64N(224<<10)
	default:
		return 512<<10 + g.rng.Int64N(1536<<10)
	}
}

// growFiles writes files into the data folder, in Mattermost's layout
// (YYYYMMDD/teams/<team>/channels/<channel>/users/<user>/<fileid>/<name>), with a FileInfo row
// each, until there are at least count files and bytes bytes.
func (g *generator) growFiles(ctx context.Context, count int, bytes int64) error {
	data := filepath.Join(g.env.MM.Dir, "data")
	start := len(g.files)
	day0 := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	type row struct {
		id, creator, post, channel, path, name, ext, mime string
		size, at                                          int64
	}
	var rows []row
	for len(g.files) < count || g.bytes < bytes {
		if err := ctx.Err(); err != nil {
			return err
		}
		i := len(g.files)
		at := day0.Add(time.Duration(i) * 24 * time.Hour / 60).Add(time.Duration(g.rng.IntN(3600)) * time.Second)
		channel := g.channels[g.rng.IntN(len(g.channels))]
		user := g.users[g.rng.IntN(len(g.users))]
		id := g.id()
		text := g.rng.IntN(2) == 0
		kinds := binaryKinds
		if text {
			kinds = textKinds
		}
		k := kinds[g.rng.IntN(len(kinds))]
		name := fmt.Sprintf(k.name, g.rng.IntN(10000)) + "." + k.ext
		rel := filepath.Join(at.Format("20060102"), "teams", g.env.Team.Id, "channels", channel, "users", user, id, name)
		f := genFile{rel: rel, size: g.fileSize(), text: text}
		if err := g.writeFile(filepath.Join(data, rel), f, at); err != nil {
			return err
		}
		g.files = append(g.files, f)
		g.bytes += f.size
		if text {
			g.text += f.size
		}
		post := ""
		if g.nextPost > 0 {
			post = postID(int64(i) * 97 % g.nextPost)
		}
		rows = append(rows, row{id: id, creator: user, post: post, channel: channel, path: rel, name: name, ext: k.ext, mime: k.mime, size: f.size, at: at.UnixMilli()})
	}
	// FileInfo rows, copied from the template file's row, in batches.
	for len(rows) > 0 {
		n := min(len(rows), 5000)
		cols := make([][]any, 10)
		for _, r := range rows[:n] {
			for j, v := range []any{r.id, r.creator, r.post, r.channel, r.path, r.name, r.ext, r.mime, r.size, r.at} {
				cols[j] = append(cols[j], v)
			}
		}
		strs := func(j int) []string {
			out := make([]string, len(cols[j]))
			for i, v := range cols[j] {
				out[i] = v.(string)
			}
			return out
		}
		ints := func(j int) []int64 {
			out := make([]int64, len(cols[j]))
			for i, v := range cols[j] {
				out[i] = v.(int64)
			}
			return out
		}
		_, err := g.db.ExecContext(ctx, `INSERT INTO fileinfo
			SELECT p.*
			FROM fileinfo t, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])
				AS r(id, creator, post, channel, path, name, ext, mime, size, at),
			LATERAL jsonb_populate_record(t, jsonb_build_object(
				'id', r.id, 'creatorid', r.creator, 'postid', r.post, 'channelid', r.channel, 'path', r.path,
				'thumbnailpath', '', 'previewpath', '', 'name', r.name, 'extension', r.ext, 'mimetype', r.mime,
				'size', r.size, 'createat', r.at, 'updateat', r.at, 'deleteat', 0, 'haspreviewimage', false,
				'width', 0, 'height', 0, 'content', '', 'minipreview', null)) p
			WHERE t.id = $11`,
			strs(0), strs(1), strs(2), strs(3), strs(4), strs(5), strs(6), strs(7), ints(8), ints(9), g.templateFile)
		if err != nil {
			return fmt.Errorf("insert fileinfo: %w", err)
		}
		rows = rows[n:]
	}
	g.log("wrote %d files", len(g.files)-start)
	return nil
}

// postID is the id growDatabase gives to post g: substr(md5('drbench-post-' || g), 1, 26).
func postID(g int64) string {
	sum := md5.Sum([]byte(fmt.Sprintf("drbench-post-%d", g)))
	return hex.EncodeToString(sum[:])[:26]
}

// id is a Mattermost-like id: 26 characters of [a-z0-9].
func (g *generator) id() string {
	const alphabet = "abcdefghijkmnopqrstuwxyz13456789"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// writeFile writes f's content (random bytes or text, by kind) and sets its modification time.
func (g *generator) writeFile(path string, f genFile, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if int64(cap(g.buf)) < f.size {
		g.buf = make([]byte, 0, max(f.size, 4<<20))
	}
	b := g.buf[:f.size]
	if f.text {
		g.fillText(b, filepath.Ext(path))
	} else {
		_, _ = g.chacha.Read(b)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}

// fillText fills b with text lines: log lines with a timestamp and an id, CSV rows of numbers,
// JSON-ish records, or prose from chatWords.
func (g *generator) fillText(b []byte, ext string) {
	out := b[:0]
	t := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.rng.IntN(1<<20)) * time.Second)
	word := func() string {
		f := g.rng.Float64()
		return chatWords[int(f*f*float64(len(chatWords)))]
	}
	for len(out) < len(b) {
		switch ext {
		case ".log":
			t = t.Add(time.Duration(g.rng.IntN(5000)) * time.Millisecond)
			out = t.AppendFormat(out, "2006-01-02T15:04:05.000Z")
			out = append(out, []string{" info ", " debug ", " warn ", " error "}[g.rng.IntN(4)]...)
			out = fmt.Appendf(out, "request_id=%08x ", g.rng.Uint32())
		case ".csv":
			out = fmt.Appendf(out, "%d,%s,%d,%.3f,", t.Unix()+int64(g.rng.IntN(1e6)), word(), g.rng.IntN(100000), g.rng.Float64()*1000)
		case ".json":
			out = fmt.Appendf(out, `{"id":"%x","user":"%s","count":%d,"text":"`, g.rng.Uint64(), word(), g.rng.IntN(1000))
		}
		for n := 3 + g.rng.IntN(14); n > 0; n-- {
			out = append(out, word()...)
			out = append(out, ' ')
		}
		if ext == ".json" {
			out = append(out, `"},`...)
		}
		out = append(out, '\n')
	}
	copy(b, out[:len(b)]) // out may have outgrown b; b keeps its length
}

// Modify rewrites a random 1% (at least one) of the files not modified before: same kind and
// size, new content, modification time now. It returns how many files and bytes it rewrote.
func (g *generator) Modify(touched map[int]bool) (int, int64, error) {
	n := max(1, int(math.Round(float64(len(g.files))/100)))
	data := filepath.Join(g.env.MM.Dir, "data")
	var bytes int64
	now := time.Now()
	for done := 0; done < n; {
		i := g.rng.IntN(len(g.files))
		if touched[i] {
			continue
		}
		touched[i] = true
		f := g.files[i]
		if err := g.writeFile(filepath.Join(data, f.rel), f, now); err != nil {
			return done, bytes, err
		}
		bytes += f.size
		done++
	}
	return n, bytes, nil
}

// warmUp reads every file of the data folder and every row of the posts table, so that
// whichever backup runs first does not pay for the page cache alone.
func (g *generator) warmUp(ctx context.Context) error {
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(filepath.Join(g.env.MM.Dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, f, buf)
		return err
	})
	if err != nil {
		return err
	}
	var n int64
	return g.db.QueryRowContext(ctx, `SELECT sum(length(message)) FROM posts`).Scan(&n)
}

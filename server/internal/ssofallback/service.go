package ssofallback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failpoint"
)

// ErrUserNotFound is returned by Mattermost.User for a user that does not exist (deleted).
var ErrUserNotFound = errors.New("user not found")

// Mattermost is what the fallback needs from the server.
type Mattermost interface {
	User(id string) (*model.User, error) // ErrUserNotFound when absent
	UserByUsername(username string) (*model.User, error)
	// UserIDsByAuthService lists the ids of all users bound to an SSO service.
	UserIDsByAuthService(service string) ([]string, error)
	// UpdateAuth sets AuthService and AuthData exactly as given (and blanks the password).
	UpdateAuth(userID, service string, data *string) error
	// AuthDataOwner returns the id of a user other than exceptUserID bound to service+data, or "".
	AuthDataOwner(service, data, exceptUserID string) (string, error)
	// SessionsSince lists the ids of the user's sessions created at or after sinceMs.
	SessionsSince(userID string, sinceMs int64) ([]string, error)
	RevokeSession(sessionID string) error
	// SetPasswordHash gives a user an already-hashed password, acting as actorID.
	SetPasswordHash(actorID, userID, hash string) error
	SendPasswordReset(email string) error
	SendDirect(userID, message string) error
	SendEmail(to, subject, htmlBody string) error
}

// KV is the part of the plugin KV store the fallback records live in.
type KV interface {
	Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error)
	Get(key string, o any) error
	Delete(key string) error
	ListKeys(page, count int, options ...pluginapi.ListKeysOption) ([]string, error)
}

// Service runs fallbacks and restores.
type Service struct {
	mm      Mattermost
	kv      KV
	audit   Auditor
	now     func() time.Time
	workers int
	hash    func(password string) (string, error)
	keys    KeyLister

	auditBatchMax  int           // see auditqueue.go
	auditBatchWait time.Duration // see auditqueue.go
	auditAppended  func(n int)   // test hook, see auditQueue

	lockTTL, lockWait, lockPoll time.Duration // see lock.go
}

// New returns a service. workers bounds how many users are processed at once.
func New(mm Mattermost, kv KV, a Auditor, workers int) *Service {
	if workers < 1 {
		workers = 1
	}
	return &Service{mm: mm, kv: kv, audit: a, now: time.Now, workers: workers, hash: HashPassword,
		auditBatchMax: auditBatchMax, auditBatchWait: auditBatchWait,
		lockTTL: defaultLockTTL, lockWait: defaultLockWait, lockPoll: defaultLockPoll}
}

// Actor is the admin acting.
type Actor struct {
	ID       string
	Username string
}

// Outcome of one user in a fallback or restore.
type Outcome string

// Outcomes.
const (
	Done    Outcome = "done"
	Already Outcome = "already" // nothing to do: already in that state
	Skipped Outcome = "skipped" // not eligible, with the reason
	Failed  Outcome = "failed"
)

// UserResult is what happened to one user.
type UserResult struct {
	UserID   string  `json:"user_id"`
	Username string  `json:"username"`
	Outcome  Outcome `json:"outcome"`
	Detail   string  `json:"detail"`
	// Password is set only for DeliverShow, for the acting admin's eyes; never stored or logged.
	Password string `json:"password,omitempty"`
}

// Report is the result of a fallback or restore of many users.
type Report struct {
	Results  []UserResult  `json:"results"`
	Duration time.Duration `json:"duration"`
}

// Count returns how many results have the outcome.
func (r *Report) Count(o Outcome) int {
	n := 0
	for _, x := range r.Results {
		if x.Outcome == o {
			n++
		}
	}
	return n
}

// Selection names the users to act on: usernames, user ids, or every user of a service.
type Selection struct {
	Usernames []string
	// UserIDs is for the plugin's own jobs: a user in fallback can rename themselves and
	// another user take the old name, so a stored username does not name a user safely.
	UserIDs []string
	Service string // with All
	All     bool
}

// FallbackRequest asks to switch users to email/password.
type FallbackRequest struct {
	Selection
	Actor    Actor
	Reason   string
	Expires  time.Duration // 0 = no expiry
	Delivery Delivery
}

// MaxShow bounds DeliverShow: the admin has to hand every password over by hand, and a post
// holds at most 16k characters.
const MaxShow = 50

// Resolve turns a selection into user ids, with a result for each username that does not
// resolve. For a service, it lists the users currently bound to it.
func (s *Service) Resolve(sel Selection) (ids []string, unresolved []UserResult, err error) {
	if sel.All {
		if !IsService(sel.Service) {
			return nil, nil, fmt.Errorf("unknown SSO service %q: use one of %s", sel.Service, strings.Join(Services, ", "))
		}
		ids, err = s.mm.UserIDsByAuthService(sel.Service)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s users: %w", sel.Service, err)
		}
		return ids, nil, nil
	}
	seen := map[string]bool{}
	for _, id := range sel.UserIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, name := range sel.Usernames {
		u, err := s.mm.UserByUsername(name)
		if err != nil || u == nil {
			unresolved = append(unresolved, UserResult{Username: name, Outcome: Failed, Detail: "no such user"})
			continue
		}
		if !seen[u.Id] {
			seen[u.Id] = true
			ids = append(ids, u.Id)
		}
	}
	return ids, unresolved, nil
}

// Fallback switches each selected user to email/password and delivers a way in. It can be
// run again after any failure or crash: each user continues from its saved state.
func (s *Service) Fallback(ctx context.Context, req FallbackRequest, progress func(done, total int)) (*Report, error) {
	if err := validDelivery(req.Delivery); err != nil {
		return nil, err
	}
	start := s.now()
	ids, results, err := s.Resolve(req.Selection)
	if err != nil {
		return nil, err
	}
	if req.Delivery == DeliverShow && len(ids) > MaxShow {
		return nil, fmt.Errorf("--deliver show is for at most %d users (you selected %d): use --deliver dm or reset-link", MaxShow, len(ids))
	}
	q := s.startAudit()
	results = append(results, s.each(ctx, ids, progress, func(id string) UserResult { return s.fallbackOne(ctx, q, req, id) })...)
	q.close() // the audit trail is complete before the result is reported, cancelled or not
	return &Report{Results: sortResults(results), Duration: s.now().Sub(start)}, nil
}

func validDelivery(d Delivery) error {
	for _, v := range Deliveries {
		if string(d) == v {
			return nil
		}
	}
	return fmt.Errorf("unknown delivery %q: use one of %s", d, strings.Join(Deliveries, ", "))
}

// each runs fn for every id on a bounded pool of workers, stopping early on cancel.
func (s *Service) each(ctx context.Context, ids []string, progress func(done, total int), fn func(id string) UserResult) []UserResult {
	out := make([]UserResult, len(ids))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < s.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() != nil {
					out[i] = UserResult{UserID: ids[i], Outcome: Failed, Detail: "cancelled before this user was processed: run the command again"}
				} else {
					out[i] = fn(ids[i])
				}
				if progress != nil {
					mu.Lock()
					done++
					progress(done, len(ids))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range ids {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out
}

func sortResults(rs []UserResult) []UserResult {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Username < rs[j].Username })
	return rs
}

// eligible says why a user cannot fall back, or "".
func eligible(u *model.User) string {
	switch {
	case u.IsBot:
		return "bot account"
	case u.DeleteAt != 0:
		return "deactivated"
	case u.IsRemote():
		return "remote user (shared channels): managed by its own server"
	case u.AuthService == model.UserAuthServiceMagicLink:
		return "guest signing in with a magic link, not SSO"
	case u.AuthService == "":
		return "already signs in with email/password"
	case !IsService(u.AuthService):
		return fmt.Sprintf("unsupported sign-in method %q", u.AuthService)
	}
	return ""
}

func (s *Service) fallbackOne(ctx context.Context, q *auditQueue, req FallbackRequest, userID string) (res UserResult) {
	res = UserResult{UserID: userID}
	defer func() { q.add(auditEntry("sso.fallback", req.Actor, req.Reason, res)) }()

	l, err := s.lockUser(ctx, userID)
	if err != nil {
		return fail(res, err)
	}
	defer l.release()
	rec, raw, err := s.load(userID)
	if err != nil {
		return fail(res, err)
	}
	if rec != nil {
		res.Username = rec.Username
		switch rec.State {
		case StateDelivered:
			res.Outcome = Already
			res.Detail = fmt.Sprintf("in fallback since %s (by @%s)", rec.Created().Format(time.RFC3339), rec.Actor)
			return res
		case StateRestoring:
			return fail(res, errors.New("a restore of this user stopped half-way (its SSO binding may be back already): run restore for this user to finish it, then fall back again"))
		}
	}
	// Read under the lease, after the record: no restore can change either until it ends,
	// so one read serves every step below.
	u, err := s.mm.User(userID)
	if err != nil {
		return fail(res, fmt.Errorf("read user: %w", err))
	}
	res.Username = u.Username
	if rec == nil {
		if why := eligible(u); why != "" {
			res.Outcome, res.Detail = Skipped, why
			return res
		}
		// The intent, with the original binding, is saved before the user is touched.
		rec = newRecord(req, u, s.now())
		if raw, err = s.insert(rec); err != nil {
			return fail(res, err)
		}
		if raw == nil { // another admin recorded this user at the same moment
			res.Outcome, res.Detail = Already, "another fallback of this user started at the same moment"
			return res
		}
		failpoint.Hit("sso.after-record")
	}
	if err := l.check(); err != nil {
		return fail(res, err)
	}
	if err := s.switchUser(rec, u); err != nil {
		return fail(res, err)
	}
	failpoint.Hit("sso.before-deliver")
	if err := l.check(); err != nil {
		return fail(res, fmt.Errorf("switched to email/password, but not delivered: %w", err))
	}
	password, err := s.deliver(rec, u, req.Actor)
	if err != nil {
		// Save that the user is switched, so `list` tells the truth while delivery is retried.
		if rec.State == StateRecorded {
			rec.State, rec.SwitchedAt = StateSwitched, s.now().UnixMilli()
			_, _ = s.update(rec, raw) // the next run finds the user switched either way
		}
		return fail(res, fmt.Errorf("switched to email/password, but delivery by %s failed: %w (run the fallback again for this user to retry delivery, or restore)", rec.Delivery, err))
	}
	rec.State, rec.DeliveredAt = StateDelivered, s.now().UnixMilli()
	if rec.SwitchedAt == 0 {
		rec.SwitchedAt = rec.DeliveredAt
	}
	if _, err := s.update(rec, raw); err != nil {
		return fail(res, err)
	}
	res.Outcome, res.Password = Done, password
	res.Detail = "switched to email/password; " + deliveryDetail(rec.Delivery)
	return res
}

func newRecord(req FallbackRequest, u *model.User, now time.Time) *Record {
	rec := &Record{
		UserID: u.Id, Username: u.Username, AuthService: u.AuthService, AuthData: copyString(u.AuthData),
		State: StateRecorded, Delivery: req.Delivery, ActorID: req.Actor.ID, Actor: req.Actor.Username,
		Reason: req.Reason, CreatedAt: now.UnixMilli(),
	}
	if req.Expires > 0 {
		rec.ExpiresAt = now.Add(req.Expires).UnixMilli()
	}
	return rec
}

// switchUser clears the SSO binding, unless a previous run already did. A recorded user who
// is already on email/password was switched by a run that died before saving its progress.
func (s *Service) switchUser(rec *Record, u *model.User) error {
	switch {
	case u.AuthService == rec.AuthService && sameAuthData(u.AuthData, rec.AuthData):
		if err := s.mm.UpdateAuth(rec.UserID, "", nil); err != nil {
			return fmt.Errorf("switch to email/password: %w", err)
		}
		failpoint.Hit("sso.after-switch")
	case u.AuthService == "":
	default:
		return fmt.Errorf("the user's sign-in changed since it was recorded (now %q): not switched; restore to drop the record", u.AuthService)
	}
	return nil
}

func (s *Service) deliver(rec *Record, u *model.User, actor Actor) (string, error) {
	if rec.Delivery == DeliverResetLink {
		return "", s.mm.SendPasswordReset(u.Email)
	}
	password, err := GeneratePassword()
	if err != nil {
		return "", err
	}
	hash, err := s.hash(password)
	if err != nil {
		return "", err
	}
	if err := s.mm.SetPasswordHash(actor.ID, rec.UserID, hash); err != nil {
		return "", fmt.Errorf("set temporary password: %w", err)
	}
	msg := fmt.Sprintf("Your identity provider is unavailable, so a system admin (@%s) switched your account to email/password sign-in for now.\n\n"+
		"Sign in with your email (`%s`) or username (`%s`) and this temporary password:\n\n`%s`\n\n"+
		"Your usual single sign-on comes back when the outage is over; this password will then stop working.", actor.Username, u.Email, u.Username, password)
	switch rec.Delivery {
	case DeliverDM:
		return "", s.mm.SendDirect(rec.UserID, msg)
	case DeliverEmail:
		return "", s.mm.SendEmail(u.Email, "Temporary sign-in while single sign-on is down", strings.ReplaceAll(msg, "\n", "<br>"))
	default: // DeliverShow
		return password, nil
	}
}

func deliveryDetail(d Delivery) string {
	switch d {
	case DeliverResetLink:
		return "password-reset email sent"
	case DeliverDM:
		return "temporary password sent by direct message"
	case DeliverEmail:
		return "temporary password sent by email"
	default:
		return "temporary password below, for you to hand over"
	}
}

// RestoreRequest asks to put users back on their SSO binding.
type RestoreRequest struct {
	Selection
	Actor        Actor
	KeepSessions bool
}

// Restore puts each selected user back exactly as recorded. With All, it restores every user
// in fallback (of Service, when set). It can be run again after any failure or crash.
func (s *Service) Restore(ctx context.Context, req RestoreRequest, progress func(done, total int)) (*Report, error) {
	start := s.now()
	var ids []string
	var results []UserResult
	if req.All {
		recs, err := s.List()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if req.Service == "" || r.AuthService == req.Service {
				ids = append(ids, r.UserID)
			}
		}
	} else {
		var err error
		if ids, results, err = s.Resolve(req.Selection); err != nil {
			return nil, err
		}
	}
	q := s.startAudit()
	results = append(results, s.each(ctx, ids, progress, func(id string) UserResult { return s.restoreOne(ctx, q, req, id) })...)
	q.close() // the audit trail is complete before the result is reported, cancelled or not
	return &Report{Results: sortResults(results), Duration: s.now().Sub(start)}, nil
}

func (s *Service) restoreOne(ctx context.Context, q *auditQueue, req RestoreRequest, userID string) (res UserResult) {
	res = UserResult{UserID: userID}
	defer func() { q.add(auditEntry("sso.restore", req.Actor, "", res)) }()
	l, err := s.lockUser(ctx, userID)
	if err != nil {
		return fail(res, err)
	}
	defer l.release()
	rec, raw, err := s.load(userID)
	if err != nil {
		return fail(res, err)
	}
	if rec == nil {
		res.Outcome, res.Detail = Already, "not in fallback"
		if u, err := s.mm.User(userID); err == nil {
			res.Username = u.Username
		}
		return res
	}
	res.Username = rec.Username
	// Read under the lease: the user is compared with the record as no fallback can change it.
	u, err := s.mm.User(userID)
	if errors.Is(err, ErrUserNotFound) {
		return fail(res, errors.New("the user was deleted; the record is kept so the original binding is not lost"))
	}
	if err != nil {
		return fail(res, fmt.Errorf("read user: %w", err))
	}
	res.Username = u.Username
	bound := u.AuthService == rec.AuthService && sameAuthData(u.AuthData, rec.AuthData)
	if !bound {
		if err := s.restorable(rec, u); err != nil {
			return fail(res, err)
		}
	}
	// Say so before the binding comes back: a fallback run after a crash from here on must
	// not take the record for a user still switched.
	if rec.State != StateRestoring {
		rec.State = StateRestoring
		if raw, err = s.update(rec, raw); err != nil {
			return fail(res, err)
		}
	}
	if !bound {
		if err := s.rebind(l, rec); err != nil {
			return fail(res, err)
		}
	}
	failpoint.Hit("sso.restore.after-auth")
	revoked := 0
	if !req.KeepSessions {
		if revoked, err = s.revokeFallbackSessions(rec); err != nil {
			return fail(res, err)
		}
	}
	if err := s.deleteRecord(l, rec, raw); err != nil {
		return fail(res, err)
	}
	res.Outcome = Done
	res.Detail = fmt.Sprintf("back on %s; %d fallback session(s) revoked", rec.AuthService, revoked)
	if req.KeepSessions {
		res.Detail = fmt.Sprintf("back on %s; sessions kept", rec.AuthService)
	}
	return res
}

// restorable says why the recorded binding cannot be written back to u, or nil.
func (s *Service) restorable(rec *Record, u *model.User) error {
	if u.AuthService != "" {
		return fmt.Errorf("the user's sign-in was changed to %q by someone else since the fallback; not restored, record kept", u.AuthService)
	}
	if rec.AuthData == nil {
		return nil
	}
	owner, err := s.mm.AuthDataOwner(rec.AuthService, *rec.AuthData, rec.UserID)
	if err != nil {
		return fmt.Errorf("check who holds the %s binding: %w", rec.AuthService, err)
	}
	if owner != "" {
		name := owner
		if o, err := s.mm.User(owner); err == nil {
			name = "@" + o.Username
		}
		return fmt.Errorf("the original %s AuthData now belongs to another user (%s); not restored, record kept: resolve the duplicate, then restore again", rec.AuthService, name)
	}
	return nil
}

// rebind writes the recorded binding back and reads the user back to check it.
func (s *Service) rebind(l *lease, rec *Record) error {
	if err := l.check(); err != nil {
		return err
	}
	if err := s.mm.UpdateAuth(rec.UserID, rec.AuthService, rec.AuthData); err != nil {
		return fmt.Errorf("restore %s binding: %w (record kept: run restore again)", rec.AuthService, err)
	}
	back, err := s.mm.User(rec.UserID)
	if err != nil {
		return fmt.Errorf("read back restored user: %w (record kept: run restore again)", err)
	}
	if back.AuthService != rec.AuthService || !sameAuthData(back.AuthData, rec.AuthData) {
		return errors.New("read-back after restore does not match the record; record kept: run restore again")
	}
	return nil
}

func (s *Service) revokeFallbackSessions(rec *Record) (int, error) {
	ids, err := s.mm.SessionsSince(rec.UserID, rec.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("binding restored, but listing fallback sessions failed: %w (run restore again)", err)
	}
	for i, id := range ids {
		if err := s.mm.RevokeSession(id); err != nil {
			return i, fmt.Errorf("binding restored, but revoking session failed: %w (run restore again)", err)
		}
	}
	return len(ids), nil
}

// deleteRecord drops the record, only as this restore last wrote it and only while the lease
// is held, once the binding is back.
func (s *Service) deleteRecord(l *lease, rec *Record, raw []byte) error {
	if err := l.check(); err != nil {
		return fmt.Errorf("binding restored, but %w", err)
	}
	ok, err := s.kv.Set(recordKey(rec.UserID), nil, pluginapi.SetAtomic(raw))
	if err != nil {
		return fmt.Errorf("restored, but deleting the record failed: %w (run restore again)", err)
	}
	if !ok {
		return errors.New("restored, but the record changed meanwhile (another admin?), so it was kept: run restore again")
	}
	return nil
}

// KeyLister lists the plugin's KV keys with a prefix in one consistent read.
type KeyLister func(prefix string) ([]string, error)

// WithKeyLister replaces the KV store's paged key listing. The plugin KV API pages with
// OFFSET over all of the plugin's keys, so a key created or deleted elsewhere while the pages
// are read (the cluster job's lock, every minute) shifts the pages and a record can be
// skipped; the plugin passes a lister that reads the keys in a single query instead.
func (s *Service) WithKeyLister(l KeyLister) *Service {
	s.keys = l
	return s
}

// List returns every user in fallback, oldest first.
func (s *Service) List() ([]Record, error) {
	keys, err := s.recordKeys()
	if err != nil {
		return nil, fmt.Errorf("list fallback records: %w", err)
	}
	var out []Record
	for _, k := range keys {
		rec, _, err := s.load(strings.TrimPrefix(k, keyPrefix))
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, *rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt < out[j].CreatedAt })
	return out, nil
}

func (s *Service) recordKeys() ([]string, error) {
	if s.keys != nil {
		return s.keys(keyPrefix)
	}
	// Pages are pages of all the plugin's keys; pluginapi's WithPrefix filters each page after
	// the fact, so a short filtered page does not mean the end. Filter here instead.
	const pageSize = 1000
	var out []string
	for page := 0; ; page++ {
		keys, err := s.kv.ListKeys(page, pageSize)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if strings.HasPrefix(k, keyPrefix) {
				out = append(out, k)
			}
		}
		if len(keys) < pageSize {
			return out, nil
		}
	}
}

// Expired returns the records whose window has passed and that have not been reminded about.
func (s *Service) Expired() ([]Record, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	var out []Record
	for _, r := range all {
		if r.ExpiresAt != 0 && r.ExpiresAt <= now && r.RemindedAt == 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// MarkReminded records that the expiry of a user's fallback was announced. It returns false
// when another node already did, so each expiry is announced once across the cluster.
func (s *Service) MarkReminded(userID string) (bool, error) {
	// Under the lease, so that it never makes a fallback's or restore's next write fail.
	l, err := s.lockUser(context.Background(), userID)
	if err != nil {
		return false, err
	}
	defer l.release()
	rec, raw, err := s.load(userID)
	if err != nil || rec == nil || rec.RemindedAt != 0 {
		return false, err
	}
	rec.RemindedAt = s.now().UnixMilli()
	newRaw, err := rec.encode()
	if err != nil {
		return false, err
	}
	ok, err := s.kv.Set(recordKey(userID), newRaw, pluginapi.SetAtomic(raw))
	if err != nil {
		return false, fmt.Errorf("mark reminder of %s: %w", userID, err)
	}
	return ok, nil
}

func (s *Service) load(userID string) (*Record, []byte, error) {
	var raw []byte
	if err := s.kv.Get(recordKey(userID), &raw); err != nil {
		return nil, nil, fmt.Errorf("read fallback record of %s: %w", userID, err)
	}
	if len(raw) == 0 {
		return nil, nil, nil
	}
	rec := &Record{}
	if err := json.Unmarshal(raw, rec); err != nil {
		return nil, nil, fmt.Errorf("fallback record of %s is unreadable: %w", userID, err)
	}
	return rec, raw, nil
}

// insert writes a new record only if none exists. It returns the stored bytes, or nil when
// another record was already there.
func (s *Service) insert(rec *Record) ([]byte, error) {
	raw, err := rec.encode()
	if err != nil {
		return nil, err
	}
	ok, err := s.kv.Set(recordKey(rec.UserID), raw, pluginapi.SetAtomic(nil))
	if err != nil {
		return nil, fmt.Errorf("save original binding of %s: %w", rec.UserID, err)
	}
	if !ok {
		return nil, nil
	}
	return raw, nil
}

// update replaces the record if it still holds old, so two admins cannot interleave steps,
// and returns what it wrote.
func (s *Service) update(rec *Record, old []byte) ([]byte, error) {
	raw, err := rec.encode()
	if err != nil {
		return nil, err
	}
	ok, err := s.kv.Set(recordKey(rec.UserID), raw, pluginapi.SetAtomic(old))
	if err != nil {
		return nil, fmt.Errorf("save fallback state of %s: %w", rec.UserID, err)
	}
	if !ok {
		return nil, fmt.Errorf("fallback record of %s changed concurrently (another admin?): run the command again", rec.UserID)
	}
	return raw, nil
}

// auditEntry is the audit record of one user's step.
func auditEntry(action string, actor Actor, reason string, res UserResult) audit.Entry {
	outcome := audit.OutcomeSucceeded
	switch res.Outcome {
	case Skipped, Already:
		outcome = audit.OutcomeSkipped
	case Failed:
		outcome = audit.OutcomeFailed
	}
	details := map[string]string{"username": res.Username, "detail": res.Detail}
	return audit.Entry{ActorID: actor.ID, Actor: actor.Username, Action: action, Target: res.UserID, Outcome: outcome, Reason: reason, Details: details}
}

func fail(res UserResult, err error) UserResult {
	res.Outcome, res.Detail = Failed, err.Error()
	return res
}

func copyString(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

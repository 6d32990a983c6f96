// JSON shapes of the plugin's REST API (server/plugin/*.go and the packages they encode).
// Times are RFC 3339 strings unless the name says _ms; Go durations are nanoseconds.

/** A background job as GET /backups reports it (backupJobInfo in server/plugin/backupcmd.go). */
export interface JobInfo {
    id: string;
    started: string;
    progress: string;
}

export interface BackupComponents {
    database: boolean;
    config: boolean;
    files: boolean;
}

export interface BackupObject {
    key: string;
    component: string;
    size: number;
    sha256: string;
    plain_size: number;
}

/** One destination's manifest of a backup (server/internal/backup/manifest.go). */
export interface BackupManifest {
    id: string;
    status: string;
    started_at: string;
    finished_at: string;
    mattermost_version?: string;
    plugin_version?: string;
    components: BackupComponents;
    destination: string;
    off_site: boolean;
    encryption: {encrypted: boolean};
    objects: BackupObject[] | null;
    warnings?: string[] | null;

    // Sent by the server, not read by the webapp (declared so the contract test knows them).
    format_version?: number;
    compression?: {algorithm: string; level: number};
    checksum?: string;
    audit_head?: {seq: number; hash: string} | null;
}

export type VerificationOutcome = 'passed' | 'failed' | 'partial';

/** The last check of a backup (POST /backups/{id}/verify). */
export interface Verification {
    checked_at: string;
    outcome: VerificationOutcome | 'skipped';
    drill: boolean;
    summary: string;
    duration_ms: number;
}

/** One backup id with its manifest at each destination (backupEntry in backupcmd.go). */
export interface BackupEntry {
    id: string;
    pinned: boolean;
    manifests: Record<string, BackupManifest>;
    verification?: Verification | null;

    /** Set on a backup this server did not make: why, by destination. */
    not_made_here?: Record<string, string>;

    /** Each destination's last check (not read by the webapp, which shows `verification`). */
    verifications?: Record<string, DestinationVerification>;
}

/** One destination's last check of a backup, as kept beside its manifest. */
export interface DestinationVerification {
    backup_id: string;
    destination: string;
    outcome: string;
    drill: boolean;
    contents_checked: boolean;
    started_at: string;
    finished_at: string;
    duration_ms: number;
    objects_read: number;
    bytes_read: number;
    checks: {name: string; outcome: string; detail: string; duration_ms: number}[] | null;
}

/** The public half of the key this server signs its backups with. */
export interface SigningKey {
    public_key: string;
    fingerprint: string;
}

/** GET /backups. `verifying` and `verification` are absent on servers without verification. */
export interface BackupList {
    backups: BackupEntry[];
    problems: string[];
    running: JobInfo | null;
    verifying: JobInfo | null;

    /** Backups found at a destination that this server did not make (absent on older servers). */
    untrusted?: BackupEntry[];
    signing_key?: SigningKey;
}

export type ProbeState = 'healthy' | 'degraded' | 'critical' | 'unknown' | 'not_configured';

export interface ProbeFinding {
    state: ProbeState;
    message: string;
    fix?: string;
}

export interface ProbeMetric {
    name: string;
    help: string;
    type: string;
    labels?: Record<string, string>;
    value: number;
}

/** What one probe found (server/internal/probe/probe.go). */
export interface ProbeResult {
    component: string;
    name: string;
    state: ProbeState;
    summary: string;
    findings?: ProbeFinding[];
    table?: {columns: string[]; rows: string[][]};
    metrics?: ProbeMetric[];
    checked_at: string;
    duration_ns: number;
}

export interface StatusReason {
    component: string;
    probe?: string; // the name of the probe (ProbeResult.name) that found it
    state: ProbeState;
    message: string;
    fix?: string;
}

/** GET /version (VersionInfo in server/plugin/api.go). */
export interface VersionInfo {
    plugin: string;
    server: string;
    node: string;

    // The pg_dump database backups run ("/usr/lib/postgresql/16/bin/pg_dump (16)"), "" when
    // none is found: problems then says what to do (in a container: add it to the image).
    pg_dump: string;

    // Every problem with the settings, the ops channel and the tools, as /dr version lists them.
    problems: string[];
}

/** GET /status (Report in server/internal/status/report.go). */
export interface StatusReport {
    verdict: string;
    reasons: StatusReason[];
    results: ProbeResult[];
    checked_at: string;
    duration_ns: number;

    // The server answered from its cache of the last run rather than running the probes.
    cached?: boolean;
}

/** GET /sso/fallbacks: who is in fallback, and the SSO job of this node, if one runs. */
export interface FallbackList {
    fallbacks: FallbackRecord[];
    running: JobInfo | null;
}

/** A user in SSO fallback (server/internal/ssofallback/record.go). Times are ms since the epoch. */
export interface FallbackRecord {
    user_id: string;
    username: string;
    auth_service: string;
    auth_data?: string | null; // the SSO identity kept for the restore (not read by the webapp)
    state: string;
    delivery: string;
    actor_id: string;
    actor: string;
    reason?: string;
    created_at: number;
    switched_at?: number;
    delivered_at?: number;
    expires_at?: number;
    reminded_at?: number;
}

export interface SSOUserResult {
    user_id: string;
    username: string;
    outcome: 'done' | 'already' | 'skipped' | 'failed';
    detail: string;
}

/** The answer of POST /sso/restore. */
export interface SSOReport {
    results: SSOUserResult[];
    duration: number;
}

/** POST /sso/restore: usernames, or all (optionally of one service; needs confirm). */
export interface SSORestoreRequest {
    usernames: string[];
    service: string;
    all: boolean;
    confirm?: boolean;
}

/** The 202 answer of an SSO run that went to the background (all, or more than 50 users). */
export interface SSOStarted {
    job: JobInfo;
    users: number; // -1: every user in fallback, counted as the job runs
}

/** What POST /sso/fallback or /sso/restore did: the per-user report, or a background job. */
export type SSOOutcome = {report: SSOReport; started?: undefined} | {started: SSOStarted; report?: undefined};

/** One record of the plugin's audit trail (server/internal/audit). */
export interface AuditRecord {
    seq: number;
    time: string;
    actor_id: string;
    actor: string;
    node: string;
    action: string;
    target: string;
    outcome: string;
    reason?: string;
    details?: Record<string, string>;

    // The trail's hash chain (not read by the webapp).
    hash?: string;
    prev_hash?: string;
}

/** Where a runbook step is (StepState in server/internal/failover/run.go). */
export type FailoverStepState = 'pending' | 'running' | 'done' | 'failed' | 'waiting' | 'deferred' | 'skipped' | 'manual' | 'waiting-for-plugin';

/** Where a runbook is (RunState in server/internal/failover/run.go). */
export type FailoverRunState = 'running' | 'waiting' | 'failed' | 'interrupted' | 'aborted' | 'completed' | 'waiting-for-plugin';

/** One step of a runbook as the journal holds it (failover.StepRecord). */
export interface FailoverStep {
    name: string;
    kind: string;
    title: string;
    from: string;
    to: string;
    calls: string;
    state: FailoverStepState;
    detail?: string;
    error?: string;
    next?: string; // what to do, when failed or waiting
    undo?: string; // how to undo it, once done
    attempts: number;
    started_at?: string;
    finished_at?: string;
    duration_ms: number;
    actor?: string;
    confirmed?: boolean;
    confirmed_by?: string;
    deferred_from?: string;
    data?: Record<string, string>;
}

/** A preflight check as it was when the runbook started (failover.Check). */
export interface FailoverCheck {
    name: string;
    state: string;
    detail: string;
    fix?: string;
    required?: boolean;
}

/** A runbook: a failover or a failback (failover.Run). */
export interface FailoverRun {
    id: string;
    kind: string; // failover or failback
    mode: string; // switchover or failover
    from: string;
    to: string;
    actor_id: string;
    actor: string;
    state: FailoverRunState;
    error?: string;
    forced?: boolean;
    checks?: FailoverCheck[];
    steps: FailoverStep[];
    node?: string;
    abort_requested?: boolean;
    aborted_by?: string;
    created_at: string;
    updated_at: string;
    finished_at?: string;
    adopted?: FailoverAdoption;
}

/** The plugin took over a runbook that drctl ran while Mattermost was down (failover.Adoption). */
export interface FailoverAdoption {
    source: string;
    node: string;
    region: string;
    at: string;
    copied?: boolean;
    reported?: boolean;
}

/** GET /failover: the current or last runbook, whether a node runs it now, and its job. */
export interface FailoverStatus {
    run: FailoverRun | null;
    running: boolean;
    job: JobInfo | null;
}

/** The answer of POST /failover/confirm, /resume and /abort. */
export interface FailoverActionResult {
    run: FailoverRun;
    message?: string; // abort only: what was done and how to undo it (Markdown)
}

/** How users in SSO fallback get in (ssofallback.Deliveries); "show" is left to chat. */
export type SSODelivery = '' | 'reset-link' | 'dm' | 'email';

/** POST /sso/fallback for named users ("" delivery: the server's default). */
export interface SSOFallbackRequest {
    usernames: string[];
    reason: string;
    expires: string; // a Go duration such as 24h; "" = the settings' default window
    delivery: SSODelivery;
}

// Answers of the plugin's API, shaped like what the Go server encodes.
import type {AuditRecord, BackupEntry, BackupList, BackupManifest, FailoverRun, FailoverStatus, FailoverStep, FallbackRecord, ProbeResult, StatusReport} from '../api/types';

export function manifest(id: string, destination: string, startedAt: string, seconds: number, sizes: number[], extra: Partial<BackupManifest> = {}): BackupManifest {
    const started = Date.parse(startedAt);
    return {
        id,
        status: 'complete',
        started_at: new Date(started).toISOString(),
        finished_at: new Date(started + (seconds * 1000)).toISOString(),
        mattermost_version: '11.4.0',
        plugin_version: '0.1.0',
        components: {database: true, config: true, files: true},
        destination,
        off_site: destination === 's3',
        encryption: {encrypted: true},
        objects: sizes.map((size, i) => ({key: `backups/${id}/object-${i}`, component: ['database', 'config', 'files'][i] ?? 'files', size, sha256: 'ab'.repeat(32), plain_size: size * 3})),
        ...extra,
    };
}

export const OLD_ID = '20260301T020000Z-aa11';
export const NEW_ID = '20260302T020000Z-bb22';

export function backupList(overrides: Partial<BackupList> = {}): BackupList {
    const newer: BackupEntry = {
        id: NEW_ID,
        pinned: false,
        manifests: {
            local: manifest(NEW_ID, 'local', '2026-03-02T02:00:00Z', 95, [4 * 1024 * 1024, 1024, 2048]),
            s3: manifest(NEW_ID, 's3', '2026-03-02T02:00:00Z', 95, [4 * 1024 * 1024, 1024, 2048]),
        },
        verification: {checked_at: '2026-03-02T03:00:00Z', outcome: 'passed', drill: true, summary: 'restored 112 tables, row counts match', duration_ms: 42_000},
    };
    const older: BackupEntry = {
        id: OLD_ID,
        pinned: true,
        manifests: {local: manifest(OLD_ID, 'local', '2026-03-01T02:00:00Z', 60, [3 * 1024 * 1024, 1024, 1024], {encryption: {encrypted: false}, warnings: ['2 files vanished during the backup']})},
        verification: null,
    };
    return {backups: [newer, older], problems: [], running: null, verifying: null, ...overrides};
}

export function result(component: string, state: ProbeResult['state'], summary: string, extra: Partial<ProbeResult> = {}): ProbeResult {
    return {component, name: `${component} check`, state, summary, checked_at: '2026-03-02T10:00:00Z', duration_ns: 12_000_000, ...extra};
}

export function healthyStatus(): StatusReport {
    return {
        verdict: 'healthy',
        reasons: [],
        results: [
            result('database', 'healthy', 'primary and 1 standby, replay lag 0 s', {name: 'PostgreSQL primary 10.0.0.5'}),
            result('s3', 'healthy', 'bucket mm-files replicates to mm-files-dr'),
            result('opensearch', 'not_configured', 'not configured'),
            result('scheduler', 'healthy', 'one node runs the job scheduler'),
            result('idp', 'healthy', 'SAML metadata reachable'),
            result('backups', 'healthy', 'newest backup 8 h old, verified'),
        ],
        checked_at: '2026-03-02T10:00:00Z',
        duration_ns: 250_000_000,
    };
}

export function degradedStatus(lagSeconds: number, checkedAt = '2026-03-02T10:00:00Z'): StatusReport {
    const s = healthyStatus();
    s.verdict = 'degraded';
    s.checked_at = checkedAt;
    s.reasons = [{component: 'database', state: 'degraded', message: `standby replay lag is ${lagSeconds} s`, fix: 'check the standby\'s network and disk'}];
    s.results[0] = result('database', 'degraded', `replay lag ${lagSeconds} s`, {
        name: 'PostgreSQL primary 10.0.0.5',
        checked_at: checkedAt,
        findings: [{state: 'degraded', message: `standby replay lag is ${lagSeconds} s`, fix: 'check the standby\'s network and disk'}],
        metrics: [
            {name: 'dr_pg_replication_lag_seconds', help: 'replay lag', type: 'gauge', labels: {standby: 'standby1'}, value: lagSeconds},
            {name: 'dr_database_connections', help: 'connections', type: 'gauge', value: 12},
        ],
    });
    return s;
}

export const FALLBACKS: FallbackRecord[] = [
    {user_id: 'u1', username: 'alice', auth_service: 'saml', state: 'delivered', delivery: 'dm', actor_id: 'a1', actor: 'sysadmin', reason: 'Okta outage', created_at: Date.parse('2026-03-02T08:00:00Z'), expires_at: Date.parse('2099-03-03T08:00:00Z')},
    {user_id: 'u2', username: 'bob', auth_service: 'ldap', state: 'switched', delivery: 'reset-link', actor_id: 'a1', actor: 'sysadmin', created_at: Date.parse('2026-03-02T08:05:00Z')},
];

export const AUDIT: AuditRecord[] = [
    {seq: 42, time: '2026-03-02T09:00:01.5Z', actor_id: 'a1', actor: 'sysadmin', node: 'node1', action: 'sso.fallback', target: 'u1', outcome: 'succeeded', reason: 'Okta outage', details: {delivery: 'dm'}},
    {seq: 41, time: '2026-03-02T02:01:35Z', actor_id: 'system', actor: 'system', node: 'node1', action: 'backup.complete', target: NEW_ID, outcome: 'succeeded'},
];

export const NO_RUNBOOK: FailoverStatus = {run: null, running: false, job: null};

function step(name: string, title: string, state: FailoverStep['state'], extra: Partial<FailoverStep> = {}): FailoverStep {
    return {name, kind: name, title, from: 'us-east-1', to: 'us-west-2', calls: '', state, attempts: state === 'pending' ? 0 : 1, duration_ms: 0, ...extra};
}

/** A switchover that waits at the job scheduler step, as GET /failover answers it. */
export function waitingRunbook(overrides: Partial<FailoverRun> = {}, running = false): FailoverStatus {
    const run: FailoverRun = {
        id: '20260302-100000-abc123',
        kind: 'failover',
        mode: 'switchover',
        from: 'us-east-1',
        to: 'us-west-2',
        actor_id: 'u1',
        actor: 'alice',
        state: 'waiting',
        steps: [
            step('announce', 'Announce the failover', 'done', {duration_ms: 120, actor: 'alice', detail: 'posted in ~dr-ops'}),
            step('database', 'Database: make the new region the writer', 'done', {duration_ms: 64_000, detail: 'mm-west is the writer'}),
            step('scheduler', 'Job scheduler in the new region', 'waiting', {
                started_at: '2026-03-02T10:01:05Z',
                detail: 'app-1 (us-east-1) runs the job scheduler',
                next: 'set RunScheduler=true on the us-west-2 nodes and false on the us-east-1 nodes.',
            }),
            step('dns', 'DNS: point chat.example.com at the new region', 'pending'),
        ],
        node: 'app-1',
        created_at: '2026-03-02T10:00:00Z',
        updated_at: '2026-03-02T10:01:05Z',
        ...overrides,
    };
    return {run, running, job: null};
}

// A runtime description of types.ts, checked against the server's real JSON by contract.test.ts
// (fixtures saved by the e2e test TestContractWebappAPI). The compiler holds each spec to its
// type: a field missing from a spec, optional where the type requires it (or the reverse), or
// an enum that lists other values than the type's union does not compile.
import type {
    AuditRecord,
    BackupEntry,
    BackupList,
    BackupManifest,
    DestinationVerification,
    FailoverAdoption,
    FailoverCheck,
    FailoverRun,
    FailoverRunState,
    FailoverStatus,
    FailoverStep,
    FailoverStepState,
    FallbackList,
    FallbackRecord,
    JobInfo,
    ProbeFinding,
    ProbeMetric,
    ProbeResult,
    ProbeState,
    StatusReason,
    StatusReport,
    Verification,
    VersionInfo,
} from './types';

export interface Spec<V> {
    /** Appends to errors what is wrong with value at path; undefined means the key is absent. */
    check(value: unknown, path: string, errors: string[]): void;
    readonly optional: boolean;

    // Phantom and invariant in V: a Spec<string> is not a Spec<string | undefined>.
    readonly _type?: (v: V) => V;
}

/** Any spec, whatever its type: what the checks need. */
export type Checker = Pick<Spec<unknown>, 'check'>;

type Fields<T> = {[K in keyof T]-?: Spec<T[K]>};

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function leaf<V>(kind: 'string' | 'number' | 'boolean'): Spec<V> {
    return {
        optional: false,
        check: (v, path, errors) => {
            if (v === undefined) {
                errors.push(`${path}: missing`);
            } else if (typeof v !== kind) {
                errors.push(`${path}: ${kindOf(v)}, want ${kind}`);
            }
        },
    };
}

export const str = (): Spec<string> => leaf('string');
export const num = (): Spec<number> => leaf('number');
export const bool = (): Spec<boolean> => leaf('boolean');

/** A string union, as a record so that the compiler checks the values are exactly the union's. */
export function oneOf<U extends string>(union: Record<U, true>): Spec<U> {
    const values = Object.keys(union);
    return {
        optional: false,
        check: (v, path, errors) => {
            str().check(v, path, errors);
            if (typeof v === 'string' && !values.includes(v)) {
                errors.push(`${path}: "${v}" is none of ${values.join(', ')}`);
            }
        },
    };
}

/** A field the type marks optional (`name?:`): it may be absent. */
export function opt<V>(s: Spec<V>): Spec<V | undefined> {
    return {optional: true, check: (v, path, errors) => (v === undefined ? undefined : s.check(v, path, errors))};
}

export function nullable<V>(s: Spec<V>): Spec<V | null> {
    return {optional: s.optional, check: (v, path, errors) => (v === null ? undefined : s.check(v, path, errors))};
}

export function arr<V>(s: Spec<V>): Spec<V[]> {
    return {
        optional: false,
        check: (v, path, errors) => {
            if (!Array.isArray(v)) {
                errors.push(`${path}: ${v === undefined ? 'missing' : `${kindOf(v)}, want array`}`);
                return;
            }
            v.forEach((e, i) => s.check(e, `${path}[${i}]`, errors));
        },
    };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function object(v: unknown, path: string, errors: string[]): v is Record<string, unknown> {
    if (!isObject(v)) {
        errors.push(`${path}: ${v === undefined ? 'missing' : `${kindOf(v)}, want object`}`);
        return false;
    }
    return true;
}

/** A map keyed by data (Record<string, V>). */
export function rec<V>(s: Spec<V>): Spec<Record<string, V>> {
    return {
        optional: false,
        check: (v, path, errors) => {
            if (object(v, path, errors)) {
                Object.entries(v).forEach(([k, e]) => s.check(e, `${path}.${k}`, errors));
            }
        },
    };
}

/** An interface: every field it declares, and no other. */
export function obj<T>(fields: Fields<T>): Spec<T> {
    const specs = fields as Record<string, Spec<unknown>>;
    return {
        optional: false,
        check: (v, path, errors) => {
            if (!object(v, path, errors)) {
                return;
            }
            for (const [k, s] of Object.entries(specs)) {
                s.check(v[k], `${path}.${k}`, errors);
            }
            for (const k of Object.keys(v)) {
                if (!(k in specs)) {
                    errors.push(`${path}.${k}: the server sends it, types.ts does not declare it`);
                }
            }
        },
    };
}

/** What is wrong with value as a T; empty when it is one. */
export function violations(spec: Checker, value: unknown, path = '$'): string[] {
    const errors: string[] = [];
    spec.check(value, path, errors);
    return errors;
}

const probeState = oneOf<ProbeState>({healthy: true, degraded: true, critical: true, unknown: true, not_configured: true});

const jobInfo = obj<JobInfo>({id: str(), started: str(), progress: str()});

const manifest = obj<BackupManifest>({
    id: str(),
    status: str(),
    started_at: str(),
    finished_at: str(),
    mattermost_version: opt(str()),
    plugin_version: opt(str()),
    components: obj({database: bool(), config: bool(), files: bool()}),
    destination: str(),
    off_site: bool(),
    encryption: obj({encrypted: bool()}),
    objects: nullable(arr(obj({key: str(), component: str(), size: num(), sha256: str(), plain_size: num()}))),
    warnings: opt(nullable(arr(str()))),
    format_version: opt(num()),
    compression: opt(obj({algorithm: str(), level: num()})),
    checksum: opt(str()),
    audit_head: opt(nullable(obj({seq: num(), hash: str()}))),
});

const destinationVerification = obj<DestinationVerification>({
    backup_id: str(),
    destination: str(),
    outcome: str(),
    drill: bool(),
    contents_checked: bool(),
    started_at: str(),
    finished_at: str(),
    duration_ms: num(),
    objects_read: num(),
    bytes_read: num(),
    checks: nullable(arr(obj({name: str(), outcome: str(), detail: str(), duration_ms: num()}))),
});

const verification = obj<Verification>({
    checked_at: str(),
    outcome: oneOf<Verification['outcome']>({passed: true, failed: true, partial: true, skipped: true}),
    drill: bool(),
    summary: str(),
    duration_ms: num(),
});

const backupEntry = obj<BackupEntry>({
    id: str(),
    pinned: bool(),
    manifests: rec(manifest),
    verification: opt(nullable(verification)),
    not_made_here: opt(rec(str())),
    verifications: opt(rec(destinationVerification)),
});

/** GET /backups */
export const BACKUP_LIST = obj<BackupList>({
    backups: arr(backupEntry),
    problems: arr(str()),
    running: nullable(jobInfo),
    verifying: nullable(jobInfo),
    untrusted: opt(arr(backupEntry)),
    signing_key: opt(obj({public_key: str(), fingerprint: str()})),
});

const finding = obj<ProbeFinding>({state: probeState, message: str(), fix: opt(str())});

const metric = obj<ProbeMetric>({name: str(), help: str(), type: str(), labels: opt(rec(str())), value: num()});

const probeResult = obj<ProbeResult>({
    component: str(),
    name: str(),
    state: probeState,
    summary: str(),
    findings: opt(arr(finding)),
    table: opt(obj({columns: arr(str()), rows: arr(arr(str()))})),
    metrics: opt(arr(metric)),
    checked_at: str(),
    duration_ns: num(),
});

const reason = obj<StatusReason>({component: str(), probe: opt(str()), state: probeState, message: str(), fix: opt(str())});

/** GET /status */
export const STATUS_REPORT = obj<StatusReport>({
    verdict: str(),
    reasons: arr(reason),
    results: arr(probeResult),
    checked_at: str(),
    duration_ns: num(),
    cached: opt(bool()),
});

/** GET /version */
export const VERSION_INFO = obj<VersionInfo>({plugin: str(), server: str(), node: str(), pg_dump: str(), problems: arr(str())});

/** GET /sso/fallbacks */
const fallbackRecord = obj<FallbackRecord>({
    user_id: str(),
    username: str(),
    auth_service: str(),
    auth_data: opt(nullable(str())),
    state: str(),
    delivery: str(),
    actor_id: str(),
    actor: str(),
    reason: opt(str()),
    created_at: num(),
    switched_at: opt(num()),
    delivered_at: opt(num()),
    expires_at: opt(num()),
    reminded_at: opt(num()),
});

/** GET /sso/fallbacks */
export const FALLBACKS = obj<FallbackList>({
    fallbacks: arr(fallbackRecord),
    running: nullable(jobInfo),
});

/** GET /audit */
export const AUDIT_RECORDS = arr(obj<AuditRecord>({
    seq: num(),
    time: str(),
    actor_id: str(),
    actor: str(),
    node: str(),
    action: str(),
    target: str(),
    outcome: str(),
    reason: opt(str()),
    details: opt(rec(str())),
    hash: opt(str()),
    prev_hash: opt(str()),
}));

const failoverStep = obj<FailoverStep>({
    name: str(),
    kind: str(),
    title: str(),
    from: str(),
    to: str(),
    calls: str(),
    state: oneOf<FailoverStepState>({pending: true, running: true, done: true, failed: true, waiting: true, deferred: true, skipped: true, manual: true, 'waiting-for-plugin': true}),
    detail: opt(str()),
    error: opt(str()),
    next: opt(str()),
    undo: opt(str()),
    attempts: num(),
    started_at: opt(str()),
    finished_at: opt(str()),
    duration_ms: num(),
    actor: opt(str()),
    confirmed: opt(bool()),
    confirmed_by: opt(str()),
    deferred_from: opt(str()),
    data: opt(rec(str())),
});

const failoverRun = obj<FailoverRun>({
    id: str(),
    kind: str(),
    mode: str(),
    from: str(),
    to: str(),
    actor_id: str(),
    actor: str(),
    state: oneOf<FailoverRunState>({running: true, waiting: true, failed: true, interrupted: true, aborted: true, completed: true, 'waiting-for-plugin': true}),
    error: opt(str()),
    forced: opt(bool()),
    checks: opt(arr(obj<FailoverCheck>({name: str(), state: str(), detail: str(), fix: opt(str()), required: opt(bool())}))),
    steps: arr(failoverStep),
    node: opt(str()),
    abort_requested: opt(bool()),
    aborted_by: opt(str()),
    created_at: str(),
    updated_at: str(),
    finished_at: opt(str()),
    adopted: opt(obj<FailoverAdoption>({source: str(), node: str(), region: str(), at: str(), copied: opt(bool()), reported: opt(bool())})),
});

export const FAILOVER_STATUS = obj<FailoverStatus>({run: nullable(failoverRun), running: bool(), job: nullable(jobInfo)});

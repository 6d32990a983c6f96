// types.ts against the Go server's real JSON: the e2e test TestContractWebappAPI saves one
// normalised answer per GET route the webapp reads into __fixtures__ (`make contract-fixtures`)
// and fails when the server's answers no longer have the fixtures' keys.
import {readFileSync, readdirSync} from 'node:fs';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {AUDIT_RECORDS, BACKUP_LIST, FAILOVER_STATUS, FALLBACKS, STATUS_REPORT, VERSION_INFO, bool, nullable, obj, oneOf, opt, str, violations, type Checker} from './contract';

const FIXTURES = join(import.meta.dirname, '__fixtures__');

const fixture = (file: string): unknown => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));

// Every GET route DrClient reads, with the type it reads it as.
const ROUTES: {file: string; route: string; spec: Checker}[] = [
    {file: 'status.json', route: 'GET /status', spec: STATUS_REPORT},
    {file: 'backups.json', route: 'GET /backups', spec: BACKUP_LIST},
    {file: 'sso_fallbacks.json', route: 'GET /sso/fallbacks', spec: FALLBACKS},
    {file: 'audit.json', route: 'GET /audit', spec: AUDIT_RECORDS},
    {file: 'version.json', route: 'GET /version', spec: VERSION_INFO},

    // Saved by TestConsoleDashboardInBrowser, which has a runbook waiting for a confirm.
    {file: 'failover.json', route: 'GET /failover', spec: FAILOVER_STATUS},
];

describe('types.ts against the server\'s JSON', () => {
    it('has a fixture for every route, and no fixture of a route it does not read', () => {
        const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
        expect(files).toEqual(ROUTES.map((r) => r.file).sort());
    });

    for (const {file, route, spec} of ROUTES) {
        it(`${route} (${file}) has every field types.ts requires, with its type, and no other`, () => {
            expect(violations(spec, fixture(file))).toEqual([]);
        });
    }

    // The fixtures show what the contract test can only check when the server sent it.
    it('sees the optional parts the dashboard reads', () => {
        const backups = fixture('backups.json') as {backups: {verification?: unknown}[]; running: unknown};
        expect(backups.backups.length).toBeGreaterThan(0);
        expect(backups.backups.some((b) => b.verification)).toBe(true);
        expect(backups.running).not.toBeNull();
        expect((fixture('sso_fallbacks.json') as {fallbacks: unknown[]}).fallbacks.length).toBeGreaterThan(0);
        expect((fixture('audit.json') as unknown[]).length).toBeGreaterThan(0);
        expect((fixture('status.json') as {results: unknown[]}).results.length).toBeGreaterThan(0);
        expect((fixture('failover.json') as {run: {steps: unknown[]} | null}).run?.steps.length).toBeGreaterThan(0);
    });
});

describe('the contract checker', () => {
    interface Thing {
        name: string;
        state: 'on' | 'off';
        note?: string;
        owner: {id: string} | null;
        done: boolean;
    }
    const THING = obj<Thing>({name: str(), state: oneOf({on: true, off: true}), note: opt(str()), owner: nullable(obj({id: str()})), done: bool()});
    const good = {name: 'a', state: 'on', owner: null, done: false};

    it('accepts a value of the type, with or without its optional fields', () => {
        expect(violations(THING, good)).toEqual([]);
        expect(violations(THING, {...good, note: 'n', owner: {id: 'x'}})).toEqual([]);
    });

    it('names a renamed field twice: missing, and unknown', () => {
        const {name, ...rest} = good;
        expect(violations(THING, {...rest, title: name})).toEqual(['$.name: missing', '$.title: the server sends it, types.ts does not declare it']);
    });

    it('names a wrong JS type, a null where none is allowed, and a value outside a union', () => {
        expect(violations(THING, {...good, done: 'no', note: null, state: 'maybe', owner: {id: 1}})).toEqual([
            '$.state: "maybe" is none of on, off',
            '$.note: null, want string',
            '$.owner.id: number, want string',
            '$.done: string, want boolean',
        ]);
    });
});

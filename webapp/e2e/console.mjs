// Real-browser test of the System Console dashboard, run by server/e2e/console_test.go against
// the harness's Mattermost server: Debian's Chromium, driven by playwright-core, loads the
// plugin's built bundle from the server, logs in for real and clicks through the dashboard.
//
// The host page (host.html, host.js) is served on the server's own origin by intercepting one
// made-up path (/__dr-console-test/...) in the browser; everything else (login, the bundle at
// /static/plugins/..., the plugin's API) is the real server, with the session cookies and the
// CSRF token exactly as the web app has them.
//
// Input: environment variables (see `need` below). Output: progress on stderr, and one line
// "RESULT {json}" on stdout that the Go test checks against the server. Exits 1 on failure.
import {readFile, mkdir} from 'node:fs/promises';
import path from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, '..', 'node_modules');

function need(name) {
    const v = process.env[name];
    if (!v) {
        throw new Error(`${name} is not set (console_test.go sets it)`);
    }
    return v;
}

const MM = need('DR_MM_URL').replace(/\/+$/, '');
const PLUGIN_ID = 'disaster-recovery';
const SETTING_KEY = need('DR_SETTING_KEY');
const SETTING_LABEL = need('DR_SETTING_LABEL');
const ARTIFACTS = need('DR_ARTIFACTS');
const CHROMIUM = process.env.DR_CHROMIUM || '/usr/bin/chromium';
const HOST = '/__dr-console-test/';
const SSO_USERNAME = need('DR_SSO_USERNAME');

// Screenshots for webapp/docs/: the Go test copies them there once it has checked the run.
const DOCS = path.join(ARTIFACTS, 'docs');

// A typical laptop screen: the System Console must be usable at this size.
const VIEWPORT = {width: 1440, height: 900};
const BACKUP_TIMEOUT = Number(process.env.DR_BACKUP_TIMEOUT_MS || 5 * 60_000);

const HOST_FILES = {
    'index.html': [path.join(here, 'host.html'), 'text/html'],
    'host.js': [path.join(here, 'host.js'), 'text/javascript'],
    'settings_page.js': [path.join(here, 'settings_page.js'), 'text/javascript'],
    'react.js': [path.join(modules, 'react/umd/react.production.min.js'), 'text/javascript'],
    'react-dom.js': [path.join(modules, 'react-dom/umd/react-dom.production.min.js'), 'text/javascript'],
    'redux.browser.mjs': [path.join(modules, 'redux/dist/redux.browser.mjs'), 'text/javascript'],
};

const log = (msg) => process.stderr.write(`browser: ${msg}\n`);

// Lines from the Go test on stdin: it answers "READY <step>" on stdout with "GO" once it has
// set the server up for that step.
const stdinLines = createInterface({input: process.stdin})[Symbol.asyncIterator]();

async function handshake(step) {
    process.stdout.write(`READY ${step}\n`);
    const {value, done} = await stdinLines.next();
    if (done || value !== 'GO') {
        throw new Error(`the Go test did not answer GO to READY ${step} (got ${done ? 'end of input' : JSON.stringify(value)})`);
    }
}

// Opens the host page in a fresh context (its own cookies) and logs in.
async function openHost(browser, who, username, password, problems) {
    const context = await browser.newContext({viewport: VIEWPORT, deviceScaleFactor: 1});
    await context.route(`${MM}${HOST}**`, async (route) => {
        const name = new URL(route.request().url()).pathname.slice(HOST.length);
        const file = HOST_FILES[name];
        if (!file) {
            await route.fulfill({status: 404, contentType: 'text/plain', body: `no host file ${name}`});
            return;
        }
        await route.fulfill({status: 200, contentType: file[1], body: await readFile(file[0])});
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.pageErrors.push(`${who}: ${err.message}`));
    page.on('console', (msg) => {
        if (msg.type() === 'error') {
            problems.consoleErrors.push(`${who}: ${msg.text()}`);
        }
    });
    await page.goto(`${MM}${HOST}index.html`);
    await page.waitForFunction(() => window.drHost !== undefined);
    const user = await page.evaluate(([u, p]) => window.drHost.login(u, p), [username, password]);
    log(`${who}: logged in as @${user.username} (${user.roles})`);
    return {context, page, user};
}

// Opens the host page, logs in and renders the dashboard setting.
async function openDashboard(browser, who, username, password, problems) {
    const {context, page, user} = await openHost(browser, who, username, password, problems);
    const loaded = await page.evaluate((id) => window.drHost.loadPlugin(id), PLUGIN_ID);
    log(`${who}: loaded ${loaded.bundleURL}`);
    await page.evaluate(([key, label]) => window.drHost.render(key, label), [SETTING_KEY, SETTING_LABEL]);
    return {context, page, user, loaded};
}

async function dashboardState(page) {
    return page.getAttribute('[data-testid="dr-dashboard"]', 'data-state');
}

async function alerts(page) {
    return page.$$eval('[data-testid="dr-dashboard"] [role="alert"]', (els) => els.map((e) => e.textContent));
}

// The failover panel with the runbook the Go test started, which waits for a confirm: the
// dashboard's picture for the docs, then Confirm through its dialog, and the runbook going on.
async function failoverPanel(page) {
    const panel = page.getByTestId('dr-failover');
    await page.waitForSelector('[data-testid="dr-failover"] [data-run-state="waiting"]', {timeout: 60_000});
    const steps = () => page.$$eval('[data-testid="dr-failover"] tr[data-step]', (rows) => rows.map((r) => `${r.getAttribute('data-step')}|${r.getAttribute('data-state')}`));
    const before = {
        summary: await panel.getByTestId('dr-failover-summary').textContent(),
        next: await panel.getByTestId('dr-failover-next').textContent(),
        steps: await steps(),
    };
    const shot = path.join(DOCS, 'dashboard.png');
    await page.screenshot({path: shot, fullPage: true});
    log(`admin: failover panel: ${before.summary}`);

    await panel.getByRole('button', {name: 'Confirm…'}).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor({timeout: 10_000});
    const dialogText = await dialog.textContent();
    const dialogShot = path.join(DOCS, 'dashboard-failover-confirm.png');
    await page.screenshot({path: dialogShot});
    await dialog.getByRole('button', {name: 'Confirm and go on'}).click();
    await page.waitForSelector('[data-testid="dr-failover"] [role="status"], [data-testid="dr-failover"] [role="alert"]', {timeout: 30_000});
    const notice = await page.textContent('[data-testid="dr-failover"] [role="status"], [data-testid="dr-failover"] [role="alert"]');
    log(`admin: failover: ${notice}`);
    let endState = '';
    try {
        await page.waitForSelector('[data-testid="dr-failover"] [data-run-state="completed"], [data-testid="dr-failover"] [data-run-state="failed"]', {timeout: 120_000});
    } catch {
        log('admin: the runbook neither completed nor failed within 2 minutes of the confirm');
    }
    endState = await page.getAttribute('[data-testid="dr-failover"] [data-run-state]', 'data-run-state');
    const endShot = path.join(ARTIFACTS, 'console-failover-after.png');
    await page.screenshot({path: endShot, fullPage: true});
    return {before, dialogText, notice, endState, after: await steps(), screenshots: [shot, dialogShot, endShot]};
}

// An SSO fallback of one named user from the dashboard, through its confirmation; the Go test
// checks the user on the server, then the page restores the user.
async function ssoFallback(page) {
    const sso = page.getByTestId('dr-sso');
    await sso.getByLabel('Users').fill(`@${SSO_USERNAME}`);
    await sso.getByLabel('Reason').fill('IdP outage (browser test)');
    await sso.getByLabel('Delivery').selectOption('dm');
    await sso.getByRole('button', {name: 'Start fallback…'}).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor({timeout: 10_000});
    const dialogText = await dialog.textContent();
    const dialogShot = path.join(DOCS, 'dashboard-sso-confirm.png');
    await page.screenshot({path: dialogShot});
    await dialog.getByRole('button', {name: 'Switch 1 user(s)'}).click();
    await page.waitForSelector('[data-testid="dr-sso"] [role="status"], [data-testid="dr-sso"] [role="alert"]', {timeout: 60_000});
    const fallbackNotice = await sso.locator('[role="status"], [role="alert"]').first().textContent();
    log(`admin: sso: ${fallbackNotice}`);
    await page.waitForSelector(`[data-testid="dr-sso"] tr[data-username="${SSO_USERNAME}"]`, {timeout: 30_000});
    const row = await page.textContent(`[data-testid="dr-sso"] tr[data-username="${SSO_USERNAME}"]`);
    await handshake('sso-fallback');

    await sso.getByRole('button', {name: `Restore @${SSO_USERNAME}`}).click();
    await page.getByRole('dialog').getByRole('button', {name: `Restore @${SSO_USERNAME}`}).click();
    await page.waitForSelector(`[data-testid="dr-sso"] tr[data-username="${SSO_USERNAME}"]`, {state: 'detached', timeout: 60_000});
    const restoreNotice = await sso.locator('[role="status"], [role="alert"]').first().textContent();
    log(`admin: sso: ${restoreNotice}`);
    await handshake('sso-restored');
    return {dialogText, fallbackNotice, row, restoreNotice, screenshots: [dialogShot]};
}

// Every section of the plugin's settings page at laptop size, for the docs.
async function settingsSession(browser, problems) {
    const {context, page} = await openHost(browser, 'settings', need('DR_ADMIN_USERNAME'), need('DR_ADMIN_PASSWORD'), problems);
    const sections = await page.evaluate((id) => window.drHost.settingsSections(id), PLUGIN_ID);
    const result = [];
    for (const section of sections.filter((s) => !s.custom)) {
        const seen = await page.evaluate((key) => window.drHost.showSection(key), section.key);
        const slug = section.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
        const shot = path.join(DOCS, `settings-${slug}.png`);
        await page.screenshot({path: shot, fullPage: true});
        result.push({...section, ...seen, screenshot: shot});
        log(`settings: ${section.title}: ${section.count} settings, ${seen.height} px high, ${seen.clipped.length} clipped`);
    }
    await context.close();
    return result;
}

async function adminSession(browser, problems) {
    const {context, page, user, loaded} = await openDashboard(browser, 'admin', need('DR_ADMIN_USERNAME'), need('DR_ADMIN_PASSWORD'), problems);
    await page.waitForSelector('[data-testid="dr-dashboard"][data-state="ready"]', {timeout: 60_000});
    const backupIds = () => page.$$eval('[data-backup-id]', (els) => els.map((e) => e.getAttribute('data-backup-id')));
    const before = await backupIds();
    const alertsBefore = await alerts(page);
    log(`admin: dashboard ready, ${before.length} backup(s) listed, alerts: ${JSON.stringify(alertsBefore)}`);
    const failover = await failoverPanel(page);
    const sso = await ssoFallback(page);

    // Every state of the job panel the page goes through, as "job id|progress".
    await page.evaluate(() => {
        window.drSeen = [];
        const note = () => {
            const panel = document.querySelector('[data-testid="dr-backup-running"]');
            if (panel) {
                const entry = `${panel.getAttribute('data-job-id')}|${panel.querySelector('[data-testid="dr-backup-running-progress"]')?.textContent ?? ''}`;
                if (window.drSeen[window.drSeen.length - 1] !== entry) {
                    window.drSeen.push(entry);
                }
            }
        };
        new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    });

    // The Go test now holds the cluster-wide backup lock for a few seconds, as a backup on
    // another node would: the job waits for it, and says so in its progress.
    await handshake('backup');
    await page.getByRole('button', {name: 'Back up now'}).click();
    await page.waitForSelector('[data-testid="dr-backup-running"]', {timeout: 30_000});
    try {
        await page.waitForFunction(() => document.querySelector('[data-testid="dr-backup-running-progress"]')?.textContent !== 'starting…', null, {timeout: 15_000});
    } catch {
        log('admin: no progress beyond "starting…" within 15 s');
    }
    const runningShot = path.join(ARTIFACTS, 'console-dashboard-running.png');
    await page.screenshot({path: runningShot, fullPage: true});
    log('admin: backup running');

    await page.waitForSelector('[data-testid="dr-backup-running"]', {state: 'detached', timeout: BACKUP_TIMEOUT});
    try {
        await page.waitForFunction((known) => [...document.querySelectorAll('[data-backup-id]')].some((e) => !known.includes(e.getAttribute('data-backup-id'))), before, {timeout: 60_000});
    } catch {
        throw new Error(`the backup ended but no new backup appeared in the list; the dashboard shows: ${JSON.stringify(await alerts(page))}`);
    }
    const after = await backupIds();
    const newBackups = after.filter((id) => !before.includes(id));
    const id = newBackups[0];
    const row = `[data-backup-id="${id}"]`;
    const newRow = await page.textContent(row);
    log(`admin: new backup ${newBackups.join(', ')} listed`);

    // Verify it: the verification job runs, then its outcome shows in the row.
    await page.getByRole('button', {name: `Verify ${id}`}).click();
    await page.waitForSelector('[data-testid="dr-verify-running"]', {timeout: 30_000});
    const verifyNotice = await page.textContent('[data-testid="dr-backups"] [role="status"]');
    await page.waitForSelector('[data-testid="dr-verify-running"]', {state: 'detached', timeout: BACKUP_TIMEOUT});
    const verificationCell = `${row} td:nth-child(9)`;
    try {
        await page.waitForFunction((sel) => !document.querySelector(sel)?.textContent?.startsWith('Not verified'), verificationCell, {timeout: 30_000});
    } catch {
        log('admin: the verification ended without a result in the row');
    }
    const verification = await page.textContent(verificationCell);
    log(`admin: verification: ${verification}`);

    // For the screenshot: the dashboard asks for a fresh status run once a job has ended; wait
    // for one checked after the verification, so the picture shows the status it led to.
    const verifiedAt = new Date(Date.now() - 1000).toISOString().replace('T', ' ').slice(0, 19);
    let freshStatus = true;
    try {
        await page.waitForFunction((after) => {
            const m = /Checked (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/.exec(document.querySelector('[data-testid="dr-status"]')?.textContent ?? '');
            return m !== null && m[1] >= after;
        }, verifiedAt, {timeout: 20_000});
    } catch {
        freshStatus = false;
        log('admin: no status checked after the verification within 20 s');
    }
    const statusAfterJobs = {
        verifiedAt,
        fresh: freshStatus,
        verdict: await page.getAttribute('[data-testid="dr-status"] [data-verdict]', 'data-verdict'),
        text: await page.textContent('[data-testid="dr-status"]'),
    };
    log(`admin: status after the jobs: ${statusAfterJobs.verdict}`);

    const shot = path.join(ARTIFACTS, 'console-dashboard-admin.png');
    await page.screenshot({path: shot, fullPage: true});

    // Pin: retention keeps it and it cannot be deleted; unpin again.
    const pinnedCell = `${row} td:nth-child(8)`;
    await page.getByRole('button', {name: `Pin ${id}`}).click();
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'Pinned', pinnedCell, {timeout: 30_000});
    const deleteDisabledWhilePinned = await page.getByRole('button', {name: `Delete ${id}`}).isDisabled();
    await page.getByRole('button', {name: `Unpin ${id}`}).click();
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'No', pinnedCell, {timeout: 30_000});
    log('admin: pinned and unpinned');

    // Delete asks first: Cancel keeps the backup, confirming deletes it.
    await page.getByRole('button', {name: `Delete ${id}`}).click();
    const dialog = page.getByRole('dialog', {name: `Delete backup ${id}?`});
    await dialog.waitFor({timeout: 10_000});
    const dialogText = await dialog.textContent();
    const dialogShot = path.join(ARTIFACTS, 'console-dashboard-delete-dialog.png');
    await page.screenshot({path: dialogShot});
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    await dialog.waitFor({state: 'detached', timeout: 10_000});
    const keptAfterCancel = (await page.$(row)) !== null;
    await page.getByRole('button', {name: `Delete ${id}`}).click();
    await dialog.getByRole('button', {name: 'Delete the backup'}).click();
    await page.waitForSelector(row, {state: 'detached', timeout: 60_000});
    const deleteNotice = await page.textContent('[data-testid="dr-backups"] [role="status"]');
    log(`admin: ${deleteNotice}`);

    const result = {
        user,
        bundleURL: loaded.bundleURL,
        registryCalls: loaded.calls,
        before,
        newBackups,
        newRow,
        seen: await page.evaluate(() => window.drSeen),
        verifyNotice,
        verification,
        deleteDisabledWhilePinned,
        dialogText,
        keptAfterCancel,
        deleteNotice,
        statusAfterJobs,
        alerts: await alerts(page),
        state: await dashboardState(page),
        hostCalls: await page.evaluate(() => window.drHost.calls.filter((c) => c.method.startsWith('props.'))),
        screenshots: [runningShot, shot, dialogShot, ...failover.screenshots, ...sso.screenshots],
        failover,
        sso,
    };
    await context.close();
    return result;
}

async function memberSession(browser, problems) {
    const {context, page, user} = await openDashboard(browser, 'member', need('DR_MEMBER_USERNAME'), need('DR_MEMBER_PASSWORD'), problems);
    await page.waitForSelector('[data-testid="dr-dashboard"][data-state="refused"]', {timeout: 60_000});
    const shot = path.join(ARTIFACTS, 'console-dashboard-member.png');
    await page.screenshot({path: shot, fullPage: true});
    const result = {
        user,
        state: await dashboardState(page),
        refusal: await page.textContent('[data-testid="dr-refusal"]'),
        visibleText: await page.innerText('#root'),
        screenshots: [shot],
    };
    log(`member: refusal shown: ${result.refusal}`);
    await context.close();
    return result;
}

async function main() {
    await mkdir(DOCS, {recursive: true});
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,

        // Playwright gives each launch a fresh, temporary --user-data-dir.
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    log(`Chromium ${browser.version()}`);
    const problems = {pageErrors: [], consoleErrors: []};
    try {
        const admin = await adminSession(browser, problems);
        const member = await memberSession(browser, problems);
        const settings = await settingsSession(browser, problems);
        process.stdout.write(`RESULT ${JSON.stringify({browser: browser.version(), admin, member, settings, ...problems})}\n`);
    } finally {
        await browser.close();
    }
    if (problems.pageErrors.length > 0) {
        throw new Error(`uncaught errors in the page: ${problems.pageErrors.join('; ')}`);
    }
}

// Exits explicitly: the open stdin would otherwise keep Node running.
main().then(() => process.exit(0), (err) => {
    process.stderr.write(`browser: FAILED: ${err.stack || err}\n`);
    process.exit(1);
});

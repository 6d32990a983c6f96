import React, {useState} from 'react';

import type {FallbackRecord, SSODelivery, SSOFallbackRequest} from '../../api/types';

import {ErrorAlert, NoticeBox, type Loaded, type Notice} from './common';
import {formatTime} from './format';

export interface SSOSectionProps {
    fallbacks: Loaded<FallbackRecord[]>;
    notice?: Notice;
    busy: boolean;
    now: number;
    onRestore: (username: string) => void;
    onRestoreAll: (count: number) => void;

    /** Asks to switch named users to email/password (the dashboard confirms first). */
    onStartFallback: (req: SSOFallbackRequest) => void;
}

// Mattermost usernames: lower-case letters, digits, '.', '-' and '_'.
const USERNAME = /^[a-z0-9._-]{1,64}$/;

/** The users typed in the form ("@alice, bob"), or what is wrong with them. */
export function parseUsernames(text: string): {names: string[]; error?: string} {
    const names = text.split(/[\s,]+/).filter((n) => n !== '').map((n) => n.replace(/^@/, '').toLowerCase());
    if (names.length === 0) {
        return {names, error: 'Name the users to switch, such as @alice @bob.'};
    }
    const bad = names.filter((n) => !USERNAME.test(n));
    if (bad.length > 0) {
        return {names, error: `Not a username: ${bad.join(', ')}. Use usernames (@alice), not display names or email addresses.`};
    }
    return {names: [...new Set(names)]};
}

// Go durations, and days and weeks as the server reads them (30m, 24h, 3d, 2w).
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$/;

export const DELIVERY_LABELS: Record<SSODelivery, string> = {
    '': 'Server default (reset-link when email works, else dm)',
    'reset-link': 'reset-link: Mattermost\'s password-reset email',
    dm: 'dm: a temporary password by direct message from the bot',
    email: 'email: a temporary password by email',
};

const TextField = ({label, value, placeholder, onChange}: {label: string; value: string; placeholder: string; onChange: (v: string) => void}): React.JSX.Element => (
    <label>
        {label}
        <input
            type='text'
            value={value}
            placeholder={placeholder}
            onChange={(e) => onChange(e.target.value)}
        />
    </label>
);

const StartFallbackForm = ({busy, onStart}: {busy: boolean; onStart: SSOSectionProps['onStartFallback']}): React.JSX.Element => {
    const [users, setUsers] = useState('');
    const [reason, setReason] = useState('');
    const [expires, setExpires] = useState('');
    const [delivery, setDelivery] = useState<SSODelivery>('');
    const [error, setError] = useState<string>();

    const submit = (e: React.FormEvent): void => {
        e.preventDefault();
        const {names, error: bad} = parseUsernames(users);
        const exp = expires.trim();
        if (bad) {
            setError(bad);
            return;
        }
        if (exp !== '' && !DURATION.test(exp)) {
            setError(`Expires: "${exp}" is not a duration: use one such as 90m, 24h or 3d, or leave it empty for the settings' default window.`);
            return;
        }
        setError(undefined);
        onStart({usernames: names, reason: reason.trim(), expires: exp, delivery});
    };

    return (
        <form
            className='DrForm'
            aria-label='Start an SSO fallback'
            data-testid='dr-sso-start'
            onSubmit={submit}
        >
            <TextField
                label='Users'
                value={users}
                placeholder='@alice @bob'
                onChange={setUsers}
            />
            <TextField
                label='Reason'
                value={reason}
                placeholder='Okta outage'
                onChange={setReason}
            />
            <TextField
                label='Expires after'
                value={expires}
                placeholder='settings default, or e.g. 24h'
                onChange={setExpires}
            />
            <label>
                {'Delivery'}
                <select
                    value={delivery}
                    onChange={(e) => setDelivery(e.target.value as SSODelivery)}
                >
                    {(Object.keys(DELIVERY_LABELS) as SSODelivery[]).map((d) => (
                        <option
                            key={d}
                            value={d}
                        >
                            {DELIVERY_LABELS[d]}
                        </option>
                    ))}
                </select>
            </label>
            <button
                type='submit'
                className='btn btn-primary'
                disabled={busy}
            >
                {'Start fallback…'}
            </button>
            {error && (
                <div
                    role='alert'
                    className='DrAlert'
                >
                    {error}
                </div>
            )}
        </form>
    );
};

const STATE_LABELS: Record<string, string> = {
    recorded: 'Recorded (not switched yet)',
    switched: 'Switched (no password delivered yet)',
    delivered: 'Switched, sign-in delivered',
};

const Expiry = ({at, now}: {at?: number; now: number}): React.JSX.Element => {
    if (!at) {
        return <span className='DrMuted'>No expiry</span>;
    }
    if (at <= now) {
        return <span className='DrState DrState--degraded'>{`Expired ${formatTime(at)}`}</span>;
    }
    return <span>{formatTime(at)}</span>;
};

const SSOSection = ({fallbacks, notice, busy, now, onRestore, onRestoreAll, onStartFallback}: SSOSectionProps): React.JSX.Element => {
    const records = fallbacks.data;
    return (
        <section
            aria-labelledby='dr-sso-title'
            data-testid='dr-sso'
        >
            <h4 id='dr-sso-title'>SSO fallback</h4>
            <p className='DrMuted'>
                Users switched from their SSO sign-in to email/password during an identity-provider outage (<code>/dr sso fallback</code>).
                Restoring puts them back on SSO exactly as they were and signs out the sessions made with the temporary sign-in.
            </p>
            <StartFallbackForm
                busy={busy}
                onStart={onStartFallback}
            />
            <NoticeBox notice={notice}/>
            {fallbacks.error && (
                <ErrorAlert
                    what={records ? 'Could not refresh the SSO fallbacks (showing the last answer)' : 'Could not load the SSO fallbacks'}
                    error={fallbacks.error}
                />
            )}
            {records?.length === 0 && <p>Nobody is in SSO fallback.</p>}
            {records && records.length > 0 && (
                <>
                    <div className='DrToolbar'>
                        <button
                            type='button'
                            className='btn btn-primary'
                            disabled={busy}
                            onClick={() => onRestoreAll(records.length)}
                        >
                            {`Restore all (${records.length})`}
                        </button>
                    </div>
                    <table aria-label='Users in SSO fallback'>
                        <thead>
                            <tr>
                                <th scope='col'>User</th>
                                <th scope='col'>Was</th>
                                <th scope='col'>State</th>
                                <th scope='col'>Since</th>
                                <th scope='col'>By</th>
                                <th scope='col'>Reason</th>
                                <th scope='col'>Expires</th>
                                <th scope='col'>Action</th>
                            </tr>
                        </thead>
                        <tbody>
                            {records.map((r) => (
                                <tr
                                    key={r.user_id}
                                    data-username={r.username}
                                >
                                    <td>{`@${r.username}`}</td>
                                    <td>{r.auth_service}</td>
                                    <td>{STATE_LABELS[r.state] ?? r.state}</td>
                                    <td>{formatTime(r.created_at)}</td>
                                    <td>{`@${r.actor}`}</td>
                                    <td>{r.reason ?? ''}</td>
                                    <td>
                                        <Expiry
                                            at={r.expires_at}
                                            now={now}
                                        />
                                    </td>
                                    <td>
                                        <button
                                            type='button'
                                            className='btn btn-tertiary btn-sm'
                                            disabled={busy}
                                            onClick={() => onRestore(r.username)}
                                            aria-label={`Restore @${r.username}`}
                                        >
                                            Restore
                                        </button>
                                    </td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </>
            )}
        </section>
    );
};

export default SSOSection;

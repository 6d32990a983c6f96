import React from 'react';

import type {FallbackRecord} from '../../api/types';

import {ErrorAlert, NoticeBox, type Loaded, type Notice} from './common';
import {formatTime} from './format';

export interface SSOSectionProps {
    fallbacks: Loaded<FallbackRecord[]>;
    notice?: Notice;
    busy: boolean;
    now: number;
    onRestore: (username: string) => void;
    onRestoreAll: (count: number) => void;
}

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

const SSOSection = ({fallbacks, notice, busy, now, onRestore, onRestoreAll}: SSOSectionProps): React.JSX.Element => {
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

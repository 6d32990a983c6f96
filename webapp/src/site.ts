/** Key of the "custom" setting in ../plugin.json that the System Console renders as the dashboard. */
export const DASHBOARD_SETTING_KEY = 'DRDashboard';

/**
 * The site URL the way the web app computes it for its own API calls: this page's origin plus
 * the subpath Mattermost is served under. Not ServiceSettings.SiteURL: the session cookie
 * belongs to the origin the admin is on, which is what must be called.
 */
export function siteURL(): string {
    return window.location.origin + (window.basename ?? '');
}

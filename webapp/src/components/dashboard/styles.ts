// The dashboard's own styles, scoped under .DrDashboard. Colours come from the Mattermost
// theme's CSS variables (with fallbacks), so the page follows the admin's theme.
export const DASHBOARD_CSS = `
.DrDashboard { color: var(--center-channel-color, #3f4350); font-size: 14px; line-height: 20px; }
.DrDashboard h3 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
.DrDashboard h4 { margin: 0 0 8px; font-size: 16px; font-weight: 600; }
.DrDashboard section { margin: 16px 0; padding: 16px; border: 1px solid rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.16); border-radius: 4px; background: var(--center-channel-bg, #fff); }
.DrDashboard table { width: 100%; border-collapse: collapse; margin: 8px 0; }
.DrDashboard th, .DrDashboard td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.12); }
.DrDashboard th { font-weight: 600; white-space: nowrap; }
.DrDashboard code { font-size: 12px; }
.DrDashboard .btn { margin: 0 6px 4px 0; }
.DrDashboard .DrToolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 8px; }
.DrDashboard .DrMuted { color: rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.72); font-size: 12px; }
.DrDashboard .DrAlert { padding: 8px 12px; margin: 8px 0; border-radius: 4px; border-left: 4px solid var(--error-text, #d24b4e); background: rgba(var(--error-text-color-rgb, 210, 75, 78), 0.08); }
.DrDashboard .DrInfo { padding: 8px 12px; margin: 8px 0; border-radius: 4px; border-left: 4px solid var(--online-indicator, #06d6a0); background: rgba(6, 214, 160, 0.08); }
.DrDashboard .DrJob { padding: 8px 12px; margin: 8px 0; border-radius: 4px; border-left: 4px solid var(--button-bg, #1c58d9); background: rgba(var(--button-bg-rgb, 28, 88, 217), 0.08); }
.DrDashboard .DrState { font-weight: 600; white-space: nowrap; }
.DrDashboard .DrState--healthy, .DrDashboard .DrOutcome--passed { color: var(--online-indicator, #06a77d); }
.DrDashboard .DrState--degraded, .DrDashboard .DrOutcome--partial { color: #b07d00; }
.DrDashboard .DrState--critical, .DrDashboard .DrOutcome--failed { color: var(--dnd-indicator, #d24b4e); }
.DrDashboard .DrState--unknown, .DrDashboard .DrState--not_configured, .DrDashboard .DrState--none { color: rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.64); }
.DrDashboard .DrCharts { display: flex; flex-wrap: wrap; gap: 16px; }
.DrDashboard .DrChart { margin: 0; }
.DrDashboard .DrChart figcaption { font-weight: 600; font-size: 12px; }
.DrDashboard .DrLegend { list-style: none; padding: 0; margin: 0; font-size: 11px; }
.DrDashboard .DrLegend span { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.DrDashboard .DrForm { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px 12px; margin: 8px 0 12px; }
.DrDashboard .DrForm label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; font-weight: 600; }
.DrDashboard .DrForm input, .DrDashboard .DrForm select { min-width: 180px; height: 32px; padding: 4px 8px; font-weight: 400; font-size: 14px; border: 1px solid rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.24); border-radius: 4px; background: var(--center-channel-bg, #fff); color: inherit; }
.DrDashboard .DrForm .DrAlert { flex-basis: 100%; }
.DrDashboard .DrDialogBackdrop { position: fixed; inset: 0; z-index: 1000; display: flex; align-items: center; justify-content: center; background: rgba(0, 0, 0, 0.5); }
.DrDashboard .DrDialog { max-width: 520px; padding: 20px 24px; border-radius: 8px; background: var(--center-channel-bg, #fff); box-shadow: 0 8px 24px rgba(0, 0, 0, 0.3); }
.DrDashboard .DrDialogButtons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 16px; }
`;

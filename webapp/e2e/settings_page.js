// The plugin's settings page as the System Console lays it out (a section title and subtitle,
// then one row per setting: the display name in a label column, the input, its help text
// below), for the real-browser test. The Mattermost server the harness runs has no built web
// app, so this page renders what the real server serves: the plugin's manifest from
// GET /api/v4/plugins and the saved (sanitized) values from GET /api/v4/config, as the admin.

async function getJSON(path) {
    const response = await fetch(path, {headers: {'X-Requested-With': 'XMLHttpRequest'}});
    if (!response.ok) {
        throw new Error(`GET ${path}: HTTP ${response.status}: ${await response.text()}`);
    }
    return response.json();
}

// Help texts are Markdown in the System Console; code spans and bold are what ours use.
function markdown(text) {
    const out = document.createDocumentFragment();
    const parts = String(text).split(/(`[^`]*`|\*\*[^*]+\*\*)/);
    for (const part of parts) {
        if (part.startsWith('`') && part.endsWith('`') && part.length > 1) {
            const code = document.createElement('code');
            code.textContent = part.slice(1, -1);
            out.appendChild(code);
        } else if (part.startsWith('**') && part.endsWith('**') && part.length > 3) {
            const b = document.createElement('strong');
            b.textContent = part.slice(2, -2);
            out.appendChild(b);
        } else {
            out.appendChild(document.createTextNode(part));
        }
    }
    return out;
}

function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === 'class') {
            node.className = v;
        } else {
            node.setAttribute(k, v);
        }
    }
    for (const c of children) {
        node.append(c);
    }
    return node;
}

// The input the System Console shows for a setting of this type, with the saved value.
function input(setting, value) {
    const id = `setting-${setting.key}`;
    switch (setting.type) {
    case 'bool': {
        const group = el('div', {class: 'radio-group', id});
        for (const [label, on] of [['True', true], ['False', false]]) {
            const radio = el('input', {type: 'radio', name: id});
            radio.checked = Boolean(value ?? setting.default) === on;
            group.append(el('label', {class: 'radio-inline'}, radio, ` ${label}`));
        }
        return group;
    }
    case 'dropdown': {
        const select = el('select', {id, class: 'form-control'});
        for (const o of setting.options ?? []) {
            const option = el('option', {value: o.value}, o.display_name);
            option.selected = o.value === (value ?? setting.default);
            select.append(option);
        }
        return select;
    }
    case 'longtext': {
        const area = el('textarea', {id, class: 'form-control', rows: '3'});
        area.value = value ?? '';
        if (setting.placeholder) {
            area.placeholder = setting.placeholder;
        }
        return area;
    }
    default: {
        const field = el('input', {id, class: 'form-control', type: setting.type === 'number' ? 'number' : 'text'});
        field.value = value ?? setting.default ?? '';
        if (setting.placeholder) {
            field.placeholder = setting.placeholder;
        }
        return field;
    }
    }
}

export async function loadSettings(pluginId) {
    const plugins = await getJSON('/api/v4/plugins');
    const manifest = [...(plugins.active ?? []), ...(plugins.inactive ?? [])].find((m) => m.id === pluginId);
    if (!manifest?.settings_schema) {
        throw new Error(`GET /api/v4/plugins lists no settings for ${pluginId}`);
    }
    const config = await getJSON('/api/v4/config');
    const saved = config.PluginSettings?.Plugins?.[pluginId] ?? {};

    // The server stores keys in lower case.
    const values = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k.toLowerCase(), v]));
    return {schema: manifest.settings_schema, values};
}

// Renders one section into root, with the plugin's sections in a sidebar as the System
// Console lists them, and returns what a laptop screen shows of it.
export function renderSection({schema, values}, key, root) {
    const sections = schema.sections ?? [];
    const section = sections.find((s) => s.key === key);
    if (!section) {
        throw new Error(`no section ${key} (sections: ${sections.map((s) => s.key).join(', ')})`);
    }
    root.replaceChildren();
    const nav = el('nav', {class: 'settings-nav', 'aria-label': 'Disaster Recovery settings'});
    for (const s of sections) {
        nav.append(el('a', {class: s.key === key ? 'active' : '', href: `#${s.key}`}, s.title));
    }
    const form = el('form', {class: 'settings-form', 'data-section': key});
    form.append(el('h2', {}, section.title));
    if (section.subtitle) {
        form.append(el('p', {class: 'section-subtitle'}, markdown(section.subtitle)));
    }
    for (const setting of section.settings) {
        if (setting.type === 'custom') {
            form.append(el('div', {class: 'form-group custom', 'data-key': setting.key}, `[${setting.display_name}: the plugin's own component]`));
            continue;
        }
        const label = el('label', {class: 'control-label', for: `setting-${setting.key}`}, setting.display_name);
        const help = el('div', {class: 'help-text'}, markdown(setting.help_text ?? ''));
        form.append(el('div', {class: 'form-group', 'data-key': setting.key}, label, el('div', {class: 'control'}, input(setting, values[setting.key.toLowerCase()]), help)));
    }
    root.append(el('div', {class: 'settings-page'}, nav, form));
    return measure(form);
}

// What the admin sees at this window size: no sideways scrolling, no cut-off label or input.
function measure(form) {
    const clipped = [];
    for (const group of form.querySelectorAll('.form-group[data-key]')) {
        for (const part of group.querySelectorAll('label.control-label, .control > input, .control > select, .control > textarea')) {
            if (part.scrollWidth > part.clientWidth + 1 && part.tagName === 'LABEL') {
                clipped.push(`${group.dataset.key}: label`);
            }
            const r = part.getBoundingClientRect();
            if (r.right > window.innerWidth || r.width < 40) {
                clipped.push(`${group.dataset.key}: ${part.tagName.toLowerCase()} at ${Math.round(r.left)}..${Math.round(r.right)}`);
            }
        }
    }
    const settings = [...form.querySelectorAll('.form-group[data-key]')].map((g) => {
        const field = g.querySelector('input[type="text"], input[type="number"], textarea');
        return {key: g.dataset.key, label: g.querySelector('label.control-label')?.textContent ?? '', placeholder: field?.placeholder ?? '', value: field?.value ?? ''};
    });
    return {
        viewport: {width: window.innerWidth, height: window.innerHeight},
        scrollWidth: document.documentElement.scrollWidth,
        height: Math.ceil(document.documentElement.scrollHeight),
        clipped,
        settings,
        text: form.innerText,
    };
}

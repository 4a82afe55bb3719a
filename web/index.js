// The index page: the applications this server runs and how to reach
// them. Only application names come from the server (/api/apps); stream
// names are never listed, since they double as stream keys.

const page = {
  host: location.host,
  http: location.protocol,
  ws: location.protocol === 'https:' ? 'wss:' : 'ws:',
};

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? '');
}

function appItem(name) {
  const li = document.createElement('li');
  const title = document.createElement('h3');
  title.textContent = name;
  const dl = document.createElement('dl');
  const values = { ...page, app: name };
  for (const [label, template] of [
    ['RTMP', 'rtmp://{host}/{app}'],
    ['RTMPT', 'rtmpt://{host}/{app}'],
    ['HTTP-FLV', '{http}//{host}/{app}/<stream>.flv'],
  ]) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    const code = document.createElement('code');
    code.textContent = fill(template, values);
    dd.append(code);
    dl.append(dt, dd);
  }
  li.append(title, dl);
  return li;
}

async function loadApps() {
  const status = document.getElementById('apps-status');
  const list = document.getElementById('apps');
  try {
    const resp = await fetch('/api/apps', { headers: { Accept: 'application/json' } });
    if (!resp.ok) {
      throw new Error(`HTTP ${resp.status}`);
    }
    const { apps } = await resp.json();
    list.replaceChildren(...apps.map(appItem));
    status.textContent = apps.length === 0
      ? 'No applications yet: add a folder under applications/.'
      : `${apps.length} application${apps.length === 1 ? '' : 's'}:`;
  } catch (err) {
    status.textContent = `The list of applications could not be loaded (${err.message}).`;
  }
}

for (const el of document.querySelectorAll('[data-template]')) {
  el.textContent = fill(el.dataset.template, page);
}
loadApps();

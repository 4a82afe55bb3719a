// Helpers shared by the demo pages (they use only the public API of /openfcs.js).

/** defaultURI is the page's server as an rtmp:// URI of app. */
export function defaultURI(app) {
  return `rtmp://${location.host}/${app}`;
}

/** params are the page's query parameters. */
export const params = new URLSearchParams(location.search);

/** log appends a line to an <ol> status log. */
export function logger(list, limit = 200) {
  return (text, level = 'status') => {
    const li = document.createElement('li');
    li.className = level;
    li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    list.prepend(li);
    while (list.children.length > limit) list.lastElementChild.remove();
  };
}

/** describe renders a NetStatusEvent's info for the log. */
export function describe(info) {
  const app = info.application ? ` (${JSON.stringify(info.application)})` : '';
  return `${info.code}${info.description ? `: ${info.description}` : ''}${app}`;
}

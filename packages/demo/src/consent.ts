// A demo link may name a model (?model=) or a WebLLM model library (?lib=) on another site. Loading
// either downloads that site's files into this browser (the model into this site's cache) and runs
// them on the visitor's GPU, so nothing is fetched from another origin until the visitor agrees, on
// a notice that names each origin and URL. The page's own models (and the catalog's) load as before.

/** What the link asks to load from another origin. */
export interface ForeignRequest {
  /** The model's URL, when it is on another origin. */
  model?: string;
  /** The model library's URL, when it is on another origin. */
  lib?: string;
}

/** The origin of an http(s) URL other than the page's; undefined for the page's own (or a URL no engine loads). */
export function otherOrigin(url: string | undefined, page: Location): string | undefined {
  if (!url) return undefined;
  const parsed = new URL(url, page.href);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined; // the SDK refuses these itself
  return parsed.origin === page.origin ? undefined : parsed.origin;
}

/**
 * Shows the notice for `request` and calls `agree` once the visitor presses its button. Declining
 * is the link to this page without the other site's parameters.
 */
export function askConsent(request: ForeignRequest, agree: () => void): void {
  const notice = document.querySelector<HTMLElement>('#consent')!;
  const list = notice.querySelector('#consent-list')!;
  const origins = [...new Set([request.model, request.lib].filter((u): u is string => !!u).map((u) => new URL(u).origin))];
  notice.querySelector('#consent-origins')!.textContent = origins.join(' and ');
  const item = (what: string, url: string) => {
    const li = document.createElement('li');
    li.append(`${what}: `, Object.assign(document.createElement('code'), { textContent: url }));
    return li;
  };
  list.replaceChildren(
    ...(request.model ? [item('Model', request.model)] : []),
    ...(request.lib ? [item('WebLLM model library, filled into “Compare engines”', request.lib)] : []),
  );
  const button = notice.querySelector<HTMLButtonElement>('#consent-yes')!;
  button.textContent = `Load from ${origins.map((o) => new URL(o).host).join(' and ')}`;
  const decline = new URL(location.href);
  decline.searchParams.delete('model');
  decline.searchParams.delete('lib');
  notice.querySelector<HTMLAnchorElement>('#consent-no')!.href = decline.href;
  button.addEventListener('click', () => {
    notice.hidden = true;
    agree();
  }, { once: true });
  notice.hidden = false;
}

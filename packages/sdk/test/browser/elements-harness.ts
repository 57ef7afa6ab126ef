/** The elements test page: the built `webchuan/elements`, as an app imports it. Tests add elements themselves. */
import 'webchuan/elements';

document.querySelector('#state')!.textContent = 'ready';

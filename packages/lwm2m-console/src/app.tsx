/** The console's frame: navigation, the API token, the theme, and a hash router over the views. */
import { useEffect, useState } from 'preact/hooks';
import { getToken, setToken } from './api.js';
import { BootstrapView } from './views/bootstrap.js';
import { DeviceView } from './views/device.js';
import { DevicesView } from './views/devices.js';
import { FirmwareView } from './views/firmware.js';
import { SecurityView } from './views/security.js';

type Theme = 'light' | 'dark';
const THEME_KEY = 'thimble-console-theme';

function initialTheme(): Theme {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/devices');
  useEffect(() => {
    const f = () => setHash(location.hash || '#/devices');
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return hash;
}

const NAV = [
  ['#/devices', 'Devices'],
  ['#/firmware', 'Firmware'],
  ['#/security', 'Security'],
  ['#/bootstrap', 'Bootstrap'],
] as const;

export function App() {
  const hash = useHash();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [token, setTokenState] = useState(getToken());
  const [draft, setDraft] = useState(token);
  // views remount when the token changes, so they load again with it
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);

  const path = hash.slice(1);
  const device = /^\/devices\/(.+)$/.exec(path);
  let view = <DevicesView />;
  if (device !== null) view = <DeviceView endpoint={decodeURIComponent(device[1]!)} />;
  else if (path.startsWith('/firmware')) view = <FirmwareView />;
  else if (path.startsWith('/security')) view = <SecurityView />;
  else if (path.startsWith('/bootstrap')) view = <BootstrapView />;

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Thimble LwM2M</span>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <a key={href} href={href} aria-current={path.startsWith(href.slice(1)) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <form
          class="token"
          onSubmit={(e) => {
            e.preventDefault();
            setToken(draft.trim());
            setTokenState(draft.trim());
            setGeneration((g) => g + 1);
          }}
        >
          <label>
            <span class="sr">API token</span>
            <input
              type="password"
              placeholder="API token"
              autocomplete="off"
              value={draft}
              onInput={(e) => setDraft(e.currentTarget.value)}
            />
          </label>
          <button type="submit">{token === '' ? 'Use token' : 'Update token'}</button>
        </form>
        <button
          type="button"
          class="theme"
          aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}
        >
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      <main id="main" key={generation}>
        {view}
      </main>
    </div>
  );
}

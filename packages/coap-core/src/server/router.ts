/**
 * Routing on method + path: literal segments, `:name` parameters and a trailing `*` wildcard.
 */
import type { LinkAttribute } from '../link-format/index.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

export const METHOD_CODES: Readonly<Record<Method, number>> = {
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  FETCH: 5,
  PATCH: 6,
  iPATCH: 7,
};

export interface CompiledRoute<H> {
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly wildcard: boolean;
  readonly handlers: Map<number, H>;
  /** Link attributes for `/.well-known/core`; undefined hides the resource from discovery. */
  link: LinkAttribute[] | undefined;
  /** For a route with parameters: the paths of the resources it serves, listed with `link`. */
  linkTargets?: (() => readonly string[]) | undefined;
}

export interface RouteMatch<H> {
  readonly route: CompiledRoute<H>;
  readonly params: Record<string, string>;
}

/** Parses `/a/:id/*` into its segments. */
export function compilePattern<H>(pattern: string): CompiledRoute<H> {
  const trimmed = pattern.replace(/^\/+/, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const wildcard = segments[segments.length - 1] === '*';
  if (wildcard) segments.pop();
  for (const s of segments) {
    if (s === '*') throw new Error(`"*" may only end a route pattern: ${pattern}`);
  }
  return { pattern, segments, wildcard, handlers: new Map(), link: undefined };
}

export class Router<H> {
  private readonly routes: CompiledRoute<H>[] = [];
  private readonly exact = new Map<string, CompiledRoute<H>>();

  /** Adds (or extends) a route. Literal routes win over parameter and wildcard routes. */
  add(pattern: string, method: number, handler: H): CompiledRoute<H> {
    let route = this.routes.find((r) => r.pattern === pattern);
    if (route === undefined) {
      route = compilePattern<H>(pattern);
      this.routes.push(route);
      if (!route.wildcard && route.segments.every((s) => !s.startsWith(':'))) {
        this.exact.set(route.segments.join('/'), route);
      }
      // More specific first: literals before params, longer before shorter, wildcards last.
      this.routes.sort((a, b) => score(b) - score(a));
    }
    route.handlers.set(method, handler);
    return route;
  }

  all(): readonly CompiledRoute<H>[] {
    return this.routes;
  }

  match(path: readonly string[]): RouteMatch<H> | undefined {
    const exact = this.exact.get(path.length === 1 ? path[0]! : path.join('/'));
    if (exact !== undefined) return { route: exact, params: {} };
    for (const route of this.routes) {
      const params = matchRoute(route, path);
      if (params !== undefined) return { route, params };
    }
    return undefined;
  }
}

function score(r: CompiledRoute<unknown>): number {
  let s = r.wildcard ? 0 : 1_000_000;
  for (const seg of r.segments) s += seg.startsWith(':') ? 10 : 100;
  return s;
}

function matchRoute<H>(route: CompiledRoute<H>, path: readonly string[]): Record<string, string> | undefined {
  const segs = route.segments;
  if (route.wildcard ? path.length < segs.length : path.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.startsWith(':')) params[seg.slice(1)] = path[i]!;
    else if (seg !== path[i]) return undefined;
  }
  if (route.wildcard) params['*'] = path.slice(segs.length).join('/');
  return params;
}

// WGSL sources are imported as text: Vite and Vitest do this natively (`?raw`); the Node CLI
// registers a loader hook for it (node/wgsl-loader.ts).
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

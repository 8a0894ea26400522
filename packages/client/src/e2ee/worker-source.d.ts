/** The E2EE worker bundle as a string, provided at bundle time by the esbuild plugin in build-plugin.mjs. */
declare module 'conclave:e2ee-worker-source' {
  const source: string;
  export default source;
}

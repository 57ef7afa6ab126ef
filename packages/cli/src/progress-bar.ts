/** A one-line progress bar on stderr (a line per 10% when stderr is not a terminal). */
export function progressBar(label: string, unit = '') {
  const start = performance.now();
  let lastTenth = -1;
  return (done: number, total: number): void => {
    const fraction = total ? done / total : 1;
    const seconds = (performance.now() - start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
    const fmt = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${n}`);
    const text = `${label} ${(fraction * 100).toFixed(1).padStart(5)}% ${fmt(done)}/${fmt(total)}${unit} ${fmt(Math.round(rate))}${unit}/s ETA ${eta}s`;
    if (process.stderr.isTTY) {
      const width = 24;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}${done >= total ? '\n' : ''}`);
    } else if (Math.floor(fraction * 10) !== lastTenth) {
      lastTenth = Math.floor(fraction * 10);
      process.stderr.write(`${text}\n`);
    }
  };
}

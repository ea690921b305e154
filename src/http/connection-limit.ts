import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Caps the connections one client address holds open at once: the one over the cap is closed as it
 * arrives, so a single address cannot take every socket the server has (slowloris and its kin; the
 * request and header timeouts cut each slow connection off, this stops many at a time).
 */
export function limitConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const n = open.get(address) ?? 0;
    if (n >= max) {
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

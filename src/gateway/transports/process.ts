/**
 * The transport to a replica process (or pod): its Unix socket when it is on this machine
 * and serves one (the wire protocol), else HTTP to its URL.
 */
import type { EndpointInfo, ReplicaTransport } from '../replica-set.js';
import { HttpTransport } from './http.js';
import { SocketTransport } from './socket.js';

export function processTransport(info: EndpointInfo, model: string): ReplicaTransport {
  return info.socket !== undefined ? new SocketTransport(info.socket) : new HttpTransport({ url: info.url, model, connections: 2 });
}

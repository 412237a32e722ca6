/**
 * Which services have instances on which nodes, both ways, so a node-level health change
 * (serfHealth, node maintenance) finds the services to re-read without scanning every node.
 */
export class ServicePlacement {
  private readonly servicesByNode = new Map<string, Set<string>>();
  private readonly nodesByService = new Map<string, Set<string>>();

  /** Records the nodes a service has instances on now (replacing what was known). */
  record(service: string, nodes: Iterable<string>): void {
    this.forget(service);
    const placed = new Set(nodes);
    if (placed.size === 0) return;
    this.nodesByService.set(service, placed);
    for (const node of placed) {
      const services = this.servicesByNode.get(node) ?? new Set<string>();
      services.add(service);
      this.servicesByNode.set(node, services);
    }
  }

  /** Drops a service. */
  forget(service: string): void {
    for (const node of this.nodesByService.get(service) ?? []) {
      const services = this.servicesByNode.get(node);
      services?.delete(service);
      if (services?.size === 0) this.servicesByNode.delete(node);
    }
    this.nodesByService.delete(service);
  }

  /** Services with an instance on `node`. */
  servicesOn(node: string): ReadonlySet<string> {
    return this.servicesByNode.get(node) ?? new Set();
  }
}

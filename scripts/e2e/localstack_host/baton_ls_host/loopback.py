"""Make LocalStack's gateway listen only where ``GATEWAY_LISTEN`` says (127.0.0.1 for Baton's e2e).

LocalStack's Twisted server opens IPv4 endpoints without an interface, i.e. on every
address, whatever host ``GATEWAY_LISTEN`` names. This runtime-create hook replaces its
``register`` with the same code plus ``interface=host``.
"""

from localstack.runtime.hooks import on_runtime_create


def _register(self, gateway, listen, ssl_creds=None):
    from localstack.aws.serving.twisted import TLSMultiplexerFactory
    from rolo.serving.twisted import TwistedGateway
    from twisted.internet import endpoints, reactor, ssl

    site = TwistedGateway(gateway)
    protocol_factory = site
    if ssl_creds:
        cert_file_name, key_file_name = ssl_creds
        context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
        context_factory.getContext().use_certificate_chain_file(cert_file_name)
        protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
    for host_and_port in listen:
        endpoint_type = endpoints.TCP6ServerEndpoint if ":" in host_and_port.host else endpoints.TCP4ServerEndpoint
        endpoint_type(reactor, host_and_port.port, interface=host_and_port.host).listen(protocol_factory)


@on_runtime_create()
def bind_gateway_to_listen_hosts():
    """Patch the Twisted runtime server before the runtime registers the gateway."""
    from localstack.runtime.server.twisted import TwistedRuntimeServer

    TwistedRuntimeServer.register = _register

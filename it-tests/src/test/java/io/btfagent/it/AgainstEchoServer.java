package io.btfagent.it;

import io.btfagent.demo.TlsEchoServer;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end tests talking to one {@link TlsEchoServer} on 127.0.0.1, started on a free port
 * for each test class and closed after it. The server is JSSE: nothing on its side goes
 * through a native TLS library, so everything the agent captures is the client's.
 */
abstract class AgainstEchoServer {
    static final String HOST = "127.0.0.1";

    static TlsEchoServer server;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startServer() throws IOException {
        server = new TlsEchoServer().start();
    }

    @AfterAll
    static void stopServer() throws IOException {
        server.close();
    }
}

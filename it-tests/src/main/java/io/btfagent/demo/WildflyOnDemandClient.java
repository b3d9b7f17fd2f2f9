package io.btfagent.demo;

import java.io.BufferedReader;
import java.io.InputStreamReader;

/**
 * A long-running HTTPS client through wildfly-openssl (the system's libssl), for attaching to
 * a JVM that was started without the agent: it loads libssl at once, prints {@code ready},
 * then makes one request for each line on stdin and prints {@code done <n>} with the
 * request's and response's digests. It exits 0 at the end of stdin.
 *
 * <p>Usage: {@code WildflyOnDemandClient <host> <port> <path>}; needs
 * {@code -Dorg.wildfly.openssl.path}.
 */
public final class WildflyOnDemandClient {
    private WildflyOnDemandClient() {
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: WildflyOnDemandClient <host> <port> <path>");
            System.exit(1);
        }
        try {
            WildflyHttpsClient client = new WildflyHttpsClient();
            System.out.println("ready");
            System.out.flush();
            BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
            int n = 0;
            while (stdin.readLine() != null) {
                WildflyHttpsClient.Exchange e = client.get(args[0], Integer.parseInt(args[1]), args[2]);
                n++;
                System.out.println("done " + n + " request-sha256 " + WildflyHttpsClient.sha256(e.request())
                        + " response-sha256 " + WildflyHttpsClient.sha256(e.response()) + " " + e.statusLine());
                System.out.flush();
            }
            System.exit(0);
        } catch (Exception | LinkageError e) {
            System.err.println(WildflyHttpsClient.failure("WildflyOnDemandClient", e));
            System.exit(1);
        }
    }
}

package io.btfagent.cli;

import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * {@code java -jar btf-agent.jar <command>}: the agent jar as a tool for a running service.
 * Reached from the entry class through the agent's isolated class loader, like the agent
 * itself. Every failure is one line and a non-zero exit status, never a stack trace.
 */
public final class Cli {
    /** Exit status of a command line that names no known command or lacks an argument. */
    static final int USAGE = 2;

    private Cli() {
    }

    static String help() {
        String version = version();
        return "btf-agent " + version + (version.isEmpty() ? "" : " ") + "shows the plaintext of TLS done by native "
                + "libraries (OpenSSL, GnuTLS) in a JVM.\n"
                + "\n"
                + "As an agent:   java -javaagent:btf-agent.jar[=key=value,...] ...\n"
                + "As a command:  java -jar btf-agent.jar <command> [arguments]\n"
                + "\n"
                + "Commands:\n"
                + "  doctor [<pid>] [key=value,...]  check, changing nothing, whether capture would work on this\n"
                + "                                  machine and in JVM <pid>; one line per check, with the fix\n"
                + "  attach <pid> [key=value,...]    load the agent into the running JVM <pid>, with the options\n"
                + "                                  -javaagent takes; prints where events go and what was hooked\n"
                + "  status <pid>                    libraries hooked, counters (JSON) and sinks of the agent in <pid>\n"
                + "  detach <pid>                    remove every probe of the agent in <pid>, flush and close its\n"
                + "                                  sinks; the application keeps running, and can be attached again\n"
                + "  watch <pid> [key=value,...]     print the TLS traffic of JVM <pid> live until Ctrl-C, attaching\n"
                + "                                  the agent if it is not there (and detaching it at the end);\n"
                + "                                  filters: conn=N port=N remote=TEXT dir=egress|ingress grep=REGEX\n"
                + "  help                            this text (also --help, -h)\n"
                + "\n"
                + "attach, status, detach and watch use the JDK's Attach API (module jdk.attach): run them with the java\n"
                + "of a JDK, as the JVM's user or as root. Exit status: 0 done, 1 not done (one line says why),\n"
                + "2 bad command line.\n";
    }

    private static String version() {
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(jarPath().toFile())) {
            return Optional.ofNullable(jar.getManifest().getMainAttributes().getValue("Implementation-Version"))
                    .orElse("");
        } catch (Exception e) {
            return "";
        }
    }

    /** Runs the command in {@code args} and returns the exit status. */
    public static int run(String[] args) {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        try {
            return run(List.of(args), out, err);
        } catch (Exception | LinkageError e) {
            err.println("btf-agent: " + e);
            return 1;
        }
    }

    static int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.isEmpty()) {
            out.print(help());
            return 0;
        }
        String command = args.get(0);
        List<String> rest = args.subList(1, args.size());
        switch (command) {
            case "help", "--help", "-h" -> {
                out.print(help());
                return 0;
            }
            case "doctor" -> {
                if (rest.size() > 2) {
                    return usage(err, "doctor takes [<pid>] [key=value,...]");
                }
                Optional<TargetProcess> target = Optional.empty();
                String options = "";
                for (String a : rest) {
                    if (a.matches("\\d+") && target.isEmpty()) {
                        target = TargetProcess.of(Long.parseLong(a));
                        if (target.isEmpty()) {
                            err.println("no process with pid " + a);
                            return 1;
                        }
                    } else if (a.contains("=")) {
                        options = a;
                    } else {
                        return usage(err, "doctor takes [<pid>] [key=value,...], not '" + a + "'");
                    }
                }
                return Doctor.run(target, options, out);
            }
            case "watch" -> {
                if (rest.isEmpty() || rest.size() > 2 || !rest.get(0).matches("\\d+")) {
                    return usage(err, "watch takes <pid> [key=value,...]");
                }
                return Watch.run(Long.parseLong(rest.get(0)), rest.size() > 1 ? rest.get(1) : "", jarPathOrNull(),
                        out, err);
            }
            case "attach", "status", "detach" -> {
                int max = command.equals("attach") ? 2 : 1;
                if (rest.isEmpty() || rest.size() > max || !rest.get(0).matches("\\d+")) {
                    return usage(err, command + " takes <pid>" + (max == 2 ? " [key=value,...]" : ""));
                }
                return control(command, Long.parseLong(rest.get(0)), rest.size() > 1 ? rest.get(1) : "", out, err);
            }
            default -> {
                return usage(err, "unknown command '" + command + "'");
            }
        }
    }

    private static int usage(PrintStream err, String line) {
        err.println("btf-agent: " + line);
        err.println();
        err.print(help());
        return USAGE;
    }

    private static int control(String command, long pid, String options, PrintStream out, PrintStream err)
            throws Exception {
        Optional<TargetProcess> target = TargetProcess.of(pid);
        if (target.isEmpty()) {
            err.println("no process with pid " + pid);
            return 1;
        }
        if (ModuleLayer.boot().findModule("jdk.attach").isEmpty()) {
            err.println("this java (" + System.getProperty("java.home") + ") has no jdk.attach module: run the command "
                    + "with the java of a JDK");
            return 1;
        }
        Optional<String> problem = AgentChannel.attachProblem(target.get());
        if (problem.isPresent()) {
            err.println(problem.get());
            return 1;
        }
        AgentChannel.Reply reply = (command.equals("attach") ? Optional.<AgentChannel.Reply>empty()
                : AgentChannel.viaSocket(target.get(), command))
                .orElseGet(() -> AgentChannel.send(target.get(), jarPathOrNull(), command, options));
        (reply.status() == 0 ? out : err).println(String.join("\n", reply.lines()));
        if (reply.status() == 0 && command.equals("attach") && target.get().otherMountNamespace()) {
            out.println("pid " + pid + " runs in another mount namespace (a container): the paths above are its own; "
                    + "from here they are below /proc/" + pid + "/root");
        }
        return reply.status();
    }

    private static Path jarPathOrNull() {
        try {
            return jarPath();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path jarPath() throws URISyntaxException {
        return Path.of(Cli.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}

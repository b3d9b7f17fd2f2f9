package io.btfagent.watch;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.sink.Sink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

/**
 * The sink of one {@code watch} command: each event that passes its filter, as text
 * ({@link WatchText}), written to the command's connection. It runs behind its own bounded
 * queue like any sink, so a terminal that reads slowly (or not at all) only costs its own
 * events: they are counted as dropped, and a line in the stream says how many were dropped
 * since the last one shown. A write that fails (the command ended) ends the watch.
 */
public final class WatchSink implements Sink {
    private final SocketChannel channel;
    private final WatchFilter filter;
    private final boolean colour;
    private final StringBuilder text = new StringBuilder(8192);
    private volatile LongSupplier dropped = () -> 0;
    private long droppedSaid;
    private volatile boolean broken;
    private final Runnable onBroken;

    /** {@code onBroken} runs once, on the sink's thread, when the command's end of the connection is gone. */
    public WatchSink(SocketChannel channel, WatchFilter filter, boolean colour, Runnable onBroken) {
        this.channel = channel;
        this.filter = filter;
        this.colour = colour;
        this.onBroken = onBroken;
    }

    /** Where the count of events dropped for this watch (its queue was full) is read. */
    public void droppedFrom(LongSupplier d) {
        this.dropped = d;
    }

    @Override
    public void accept(CaptureEvent event) {
        accept(EventView.from(event));
    }

    @Override
    public void accept(EventView e) {
        if (broken || !filter.accepts(e)) {
            return;
        }
        long d = dropped.getAsLong();
        if (d > droppedSaid) {
            text.append("… ").append(d - droppedSaid).append(" events dropped here: the terminal read slower than the "
                    + "traffic came (the application was not slowed)\n");
            droppedSaid = d;
        }
        WatchText.block(text, e, colour);
    }

    @Override
    public void flush() {
        if (text.length() == 0 || broken) {
            return;
        }
        ByteBuffer out = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
        text.setLength(0);
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } catch (IOException e) {
            broken = true;
            onBroken.run();
        }
    }

    /** Writes a last line (the counts) and closes the connection. */
    public void finish(String line) {
        try {
            channel.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        } catch (IOException ignored) {
            // the command is gone
        }
        close();
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}

package io.btfagent.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test that loads real BPF programs and attaches real uprobes. It is disabled, with the
 * reason, only where the machine truly cannot do that (see {@link PrivilegedCondition}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(PrivilegedCondition.class)
public @interface Privileged {
}

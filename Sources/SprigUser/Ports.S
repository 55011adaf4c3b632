/* void sprig_port_out(uint64_t port, uint64_t value): `out %al, %dx`, a byte to an I/O port.
 * Ring 3 has no I/O permission (IOPL 0, no I/O bitmap): a #GP(0) the parent takes. The
 * `alice-eve` system's Eve tries QEMU's power-off port with it. */
    .text
    .global sprig_port_out
sprig_port_out:
    movq %rdi, %rdx
    movq %rsi, %rax
    outb %al, %dx
    ret

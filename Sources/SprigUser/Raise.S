/* uint64_t sprig_raise(uint64_t n): `int $n` (n & 255) and back, through Faults.S's table of
 * one `int $n; jmp *%r13` per vector. The parent's handler gets the delivery registers (this
 * partition's name, the vector, where it was saved) that a plain yield does not give, and
 * resumes this partition with rax = 0; or the kernel refuses and rax holds the status. r13 is
 * kept, as the ABI wants. */
    .text
    .global sprig_raise
sprig_raise:
    pushq %r13
    leaq 1f(%rip), %r13
    andq $255, %rdi
    leaq sprig_int_table(%rip), %rax
    leaq (%rax,%rdi,8), %rdi
    xorl %eax, %eax
    jmp *%rdi
1:  popq %r13
    ret

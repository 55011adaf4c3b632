/* The instructions that show where the kernel keeps its descriptor tables (and CR0's low
 * word) to any CPL unless CR4.UMIP is set: sgdt, sidt, sldt, str, smsw. With UMIP each is a
 * #GP(0) in ring 3, which the kernel delivers to the partition's parent (the `attacks` system
 * checks every one). Without UMIP the instruction goes on and this returns what it stored.
 *
 * uint64_t sprig_descriptor_table_read(kind): 0 sgdt, 1 sidt, 2 sldt, 3 str, 4 smsw; another
 * kind returns 0 without executing anything. */
    .text
    .global sprig_descriptor_table_read
sprig_descriptor_table_read:
    subq $16, %rsp
    movq $0, (%rsp)
    movq $0, 8(%rsp)
    xorl %eax, %eax
    cmpq $0, %rdi
    je 0f
    cmpq $1, %rdi
    je 1f
    cmpq $2, %rdi
    je 2f
    cmpq $3, %rdi
    je 3f
    cmpq $4, %rdi
    je 4f
    jmp 9f
0:  sgdt (%rsp)
    movq 2(%rsp), %rax                 /* the base */
    jmp 9f
1:  sidt (%rsp)
    movq 2(%rsp), %rax
    jmp 9f
2:  sldt %ax
    jmp 9f
3:  str %ax
    jmp 9f
4:  smsw %ax
9:  addq $16, %rsp
    ret

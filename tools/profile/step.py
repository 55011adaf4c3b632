# gdb script of `sprig bench --profile` (Sources/SprigTool/Profile.swift): steps the bench
# system one instruction at a time through one occurrence of a path and writes every rip.
#
# A window is what the bench measures: from one `rdtsc` (root's or the child's `sprig_rdtsc`)
# to the next one, the first counted, the second not. gdb's `stepi` executes exactly one
# instruction (QEMU's stub masks interrupts and timers while stepping), so the number of rips
# written is the number of instructions. Parameters come as `key=value` words in the file named
# by the environment variable SPRIG_PROFILE_PARAMETERS.
import gdb, os

P = dict(kv.split('=', 1) for kv in open(os.environ['SPRIG_PROFILE_PARAMETERS']).read().split())
ROOT = int(P['root_rdtsc'], 16)
CHILD = int(P['child_rdtsc'], 16)
ENTRIES = [int(a, 16) for a in P['syscall_entries'].split(',')]
MASK = (1 << 64) - 1
out = open(P['out'], 'w')


def reg(name):
    return int(gdb.parse_and_eval('$' + name)) & MASK


def mem(address):
    return int(gdb.parse_and_eval('*(unsigned long long *)%d' % address)) & MASK


def cont():
    gdb.execute('continue', to_string=True)
    return reg('pc')


def program(pc):
    return 'root' if pc == ROOT else 'child'


def window(first=None):
    """Steps from the current rip to the next rdtsc: (where it started, the program whose
    rdtsc ends it, every rip). `first` names the start when it is not an rdtsc."""
    pcs = [reg('pc')]
    start = first or program(pcs[0])
    while True:
        gdb.execute('stepi', to_string=True)
        pc = reg('pc')
        if pc in (ROOT, CHILD):
            return start, program(pc), pcs
        pcs.append(pc)


def emit(tag, w):
    start, end, pcs = w
    out.write('window %s %s %s %d\n' % (tag, start, end, len(pcs)))
    out.write(''.join('%x\n' % p for p in pcs))


def stop_at(address, ignore=0):
    """Runs to the (ignore+1)th execution of `address`."""
    b = gdb.Breakpoint('*0x%x' % address, internal=True)
    b.ignore_count = ignore
    cont()
    b.delete()


gdb.execute('set pagination off')
gdb.execute('set confirm off')
gdb.execute('target remote 127.0.0.1:' + P['port'])
path = P['path']
occurrence = int(P['occurrence'])

# The counter-read pair the bench subtracts: root's first two reads, back to back.
stop_at(ROOT)
emit('baseline', window())

if path == 'service.null':
    # The unknown service number 0x999: its `occurrence - 1`th call names the return site of
    # the counter read before it; the next read from that site starts the window measured.
    marks = [gdb.Breakpoint('*0x%x' % a, internal=True) for a in [ROOT] + ENTRIES]
    calls, site, last = 0, None, None
    while site is None:
        pc = cont()
        if pc == ROOT:
            last = mem(reg('rsp'))
        elif reg('rax') == 0x999:
            calls += 1
            if calls == occurrence - 1:
                site = last
    for b in marks[1:]:
        b.delete()
    while cont() != ROOT or mem(reg('rsp')) != site:
        pass
    marks[0].delete()
    emit(path, window())
elif path.startswith('yield.'):
    # Round k of the bench's yields (warm k = 1…16, cold k = 17…32, miss k = 33…48) starts after the child's
    # counter read number 2k+1; from there the first root→child window is round k's
    # parent→child yield and the second child→root window its child→parent yield.
    k = occurrence + (16 if path.endswith('_cold') else 32 if path.endswith('_miss') else 0)
    stop_at(CHILD, ignore=2 * k)
    down = 'parent_to_child' in path
    ups = 0
    while True:
        w = window()
        if down and w[:2] == ('root', 'child'):
            break
        if w[:2] == ('child', 'root'):
            ups += 1
            if not down and ups == 2:
                break
    emit(path, w)
elif path == 'irq.to_root_handler':
    # The `occurrence`th timer interrupt (vector 32), taken in the spinning child: from its
    # interrupt entry to root's counter read in its VIDT[32] handler.
    stop_at(int(P['irq_entry'], 16), ignore=occurrence - 1)
    out.write('interrupted %x\n' % mem(reg('rsp')))
    emit(path, window(first='interrupt'))
out.close()
gdb.execute('kill')

//! The linker script parser on hand-written scripts.

use super::*;

fn parse(text: &str) -> Script {
    Script::parse(text.as_bytes(), "test.lds").unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> String {
    match Script::parse(text.as_bytes(), "test.lds") {
        Ok(script) => panic!("parsed: {script:?}"),
        Err(e) => e.to_string(),
    }
}

fn sym(name: &str) -> Expr {
    Expr::Symbol(name.as_bytes().to_vec())
}

fn sections(script: &Script) -> Vec<&OutputSection> {
    script
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Section(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn assignments(commands: &[SectionCommand]) -> Vec<&Assignment> {
    commands
        .iter()
        .filter_map(|c| match c {
            SectionCommand::Assignment(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn inputs(commands: &[SectionCommand]) -> Vec<&InputSpec> {
    commands
        .iter()
        .filter_map(|c| match c {
            SectionCommand::Input(i) => Some(i),
            _ => None,
        })
        .collect()
}

#[test]
fn assignments_everywhere() {
    let script = parse(
        "jiffies = jiffies_64;\n\
         SECTIONS {\n\
           . = 0x1000;\n\
           PROVIDE(__a = .);\n\
           .text : { _text = .; HIDDEN(__h = . + 4); PROVIDE_HIDDEN(__ph = 1); *(.text) }\n\
           __b += 8;\n\
         }\n\
         PROVIDE(__ref = __stack_chk_guard);\n\
         init_x = ABSOLUTE(x) + __per_cpu_load;\n",
    );
    let top: Vec<&Assignment> = script
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Assignment(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(top[0].target, Target::Symbol(b"jiffies".to_vec()));
    assert_eq!(top[0].expr, sym("jiffies_64"));
    assert_eq!(top[1].target, Target::Dot);
    assert_eq!(top[1].expr, Expr::Number(0x1000));
    assert_eq!(top[2].kind, AssignKind::Provide);
    assert_eq!(top[2].expr, Expr::Dot);
    assert_eq!(
        top[3].expr,
        Expr::Binary(
            BinaryOp::Add,
            Box::new(sym("__b")),
            Box::new(Expr::Number(8))
        )
    );
    assert_eq!(top[4].kind, AssignKind::Provide);
    assert_eq!(top[4].line, 8);
    assert_eq!(
        top[5].expr,
        Expr::Binary(
            BinaryOp::Add,
            Box::new(Expr::Unary(UnaryOp::Absolute, Box::new(sym("x")))),
            Box::new(sym("__per_cpu_load"))
        )
    );
    let text = sections(&script)[0];
    let inside = assignments(&text.commands);
    assert_eq!(inside[0].kind, AssignKind::Plain);
    assert_eq!(inside[1].kind, AssignKind::Hidden);
    assert_eq!(inside[2].kind, AssignKind::ProvideHidden);
    assert_eq!(inside[2].line, 5);
}

#[test]
fn output_section_headers() {
    let script = parse(
        "SECTIONS {\n\
           .text : AT(ADDR(.text) - 0xffffffff80000000) { *(.text) } :text = 0xcccccccc\n\
           .stab 0 : { *(.stab) }\n\
           .got.plt (INFO) : { *(.got.plt) }\n\
           .bss (NOLOAD) : ALIGN(4096) SUBALIGN(8) { *(.bss) } >RAM AT>ROM :data\n\
           .p (0x10) : { *(.p) }\n\
           .ro : ONLY_IF_RO { *(.ro) }\n\
           .exit.text :\n { *(.exit.text) }\n\
           /DISCARD/ : { *(.discard) *(.discard.*) }\n\
         }",
    );
    let s = sections(&script);
    assert_eq!(s.len(), 8);
    assert_eq!(s[0].name, b".text");
    assert_eq!(s[0].other_exprs.len(), 2, "AT and the fill");
    assert_eq!(s[1].address, Some(Expr::Number(0)));
    assert_eq!(s[2].kind, SectionKind::NoAlloc);
    assert_eq!(s[3].kind, SectionKind::NoLoad);
    assert_eq!(s[4].address, Some(Expr::Number(0x10)));
    assert_eq!(s[4].kind, SectionKind::Normal);
    assert_eq!(s[5].constraint, Some(Constraint::OnlyIfReadOnly));
    assert_eq!(s[6].line, 8);
    assert!(s[7].is_discard());
    assert_eq!(inputs(&s[7].commands).len(), 2);
}

#[test]
fn input_section_descriptions() {
    let script = parse(
        "SECTIONS { .x : {\n\
           KEEP(*(SORT(___ksymtab+*)))\n\
           *(.text.hot .text.hot.*)\n\
           EXCLUDE_FILE(*crtend.o *otherfile.o) *(.ctors)\n\
           *(EXCLUDE_FILE(*crtend.o) .dtors .fini_array)\n\
           lib.a:*(.data)\n\
           init/version-timestamp.o(.rodata)\n\
           bare.o\n\
           INPUT_SECTION_FLAGS(SHF_ALLOC & !SHF_WRITE) *(.flagged)\n\
           *(SORT_BY_NAME(SORT_BY_ALIGNMENT(.sorted.*)))\n\
           *(.apicdrivers);\n\
           BYTE(0) LONG(1) FILL(0x90)\n\
           ASSERT(. > 0, \"never\");\n\
           CONSTRUCTORS\n\
         } }",
    );
    let s = sections(&script)[0];
    let specs = inputs(&s.commands);
    assert!(specs[0].keep);
    assert_eq!(specs[0].sections[0].name.pattern(), b"___ksymtab+*");
    assert!(specs[0].sections[0].name.matches(b"___ksymtab+printk"));
    assert_eq!(specs[1].sections.len(), 2);
    assert_eq!(specs[2].exclude_files.len(), 2);
    assert!(specs[2].exclude_files[0].matches(b"/usr/lib/crtend.o"));
    assert_eq!(specs[3].sections[0].exclude_files.len(), 1);
    assert!(specs[3].sections[1].exclude_files.is_empty());
    assert_eq!(specs[4].file.pattern(), b"lib.a:*");
    assert_eq!(specs[5].file.pattern(), b"init/version-timestamp.o");
    assert!(!specs[5].file.is_wild());
    assert_eq!(specs[6].file.pattern(), b"bare.o");
    assert!(specs[6].sections[0].name.is_star());
    assert_eq!(
        specs[7].flags,
        Some(FlagFilter {
            set: 0x2,
            clear: 0x1
        })
    );
    assert_eq!(specs[8].sections[0].name.pattern(), b".sorted.*");
    assert_eq!(
        specs[8].sections[0].sort,
        [SortForm::ByName, SortForm::ByAlignment]
    );
    assert!(specs[8].sections[0].is_sorted());
    assert!(specs[1].sections.iter().all(|s| s.sort.is_empty()));
    assert_eq!(specs.len(), 10);
    let data = s
        .commands
        .iter()
        .filter(|c| matches!(c, SectionCommand::Data { .. }))
        .count();
    assert_eq!(data, 2);
}

#[test]
fn expressions_precedence_and_functions() {
    let script = parse(
        "SECTIONS {\n\
           a = 1 + 2 * 3 << 1;\n\
           b = x ? y : z;\n\
           c = ALIGN(8) + ALIGN(., 16) + MAX(1, 2) + SIZEOF(.text) + LOADADDR(.text);\n\
           d = DEFINED(foo) ? foo : 0;\n\
           e = CONSTANT(MAXPAGESIZE) + SIZEOF_HEADERS + LOG2CEIL(5) + -~!1;\n\
           f = ((((48) - 4) / (12 - 3)) - 1) > 3 ? (_end - 1) >> 3 : 0;\n\
           g = a/b - c;\n\
         }",
    );
    let values: Vec<&Expr> = script
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Assignment(a) => Some(&a.expr),
            _ => None,
        })
        .collect();
    assert_eq!(values[0].constant(), Some((1 + 2 * 3) << 1));
    assert!(matches!(values[1], Expr::Conditional(..)));
    let mut refs = Vec::new();
    values[3].for_each_symbol(&mut |s| refs.push(s.to_vec()));
    assert_eq!(refs, [b"foo".to_vec()], "DEFINED() is not a reference");
    assert_eq!(values[4].constant(), None);
    // The condition is a constant (false), so the evaluator knows the side ld takes.
    match values[5] {
        Expr::Conditional(c, _, _) => assert_eq!(c.constant(), Some(0)),
        other => panic!("{other:?}"),
    }
    // In an expression `/` may be part of a name, as in ld.
    let mut names = Vec::new();
    values[6].for_each_symbol(&mut |s| names.push(String::from_utf8_lossy(s).into_owned()));
    assert_eq!(names, ["a/b", "c"]);
}

#[test]
fn commands_that_do_not_matter_are_skipped() {
    let script = parse(
        "OUTPUT_FORMAT(\"elf64-x86-64\", \"elf64-x86-64\", \"elf64-x86-64\")\n\
         OUTPUT_ARCH(i386:x86-64)\n\
         ENTRY(phys_startup_64)\n\
         PHDRS { text PT_LOAD FLAGS(5); note PT_NOTE FLAGS(0); }\n\
         MEMORY { ram (rwx) : ORIGIN = 0, LENGTH = 4M }\n\
         /* a comment */ # and another\n\
         LD_FEATURE(\"SANE_EXPR\")\n\
         EXTERN(a b)\n\
         SECTIONS { }\n\
         . = ASSERT(x <= 1, \"too big\");\n",
    );
    assert!(script.sane_expr);
    assert_eq!(
        script.statements[0],
        Statement::Extern(vec![b"a".to_vec(), b"b".to_vec()])
    );
    assert_eq!(script.statements.len(), 2);
}

#[test]
fn errors_name_file_and_line() {
    assert_eq!(
        parse_err("SECTIONS {\n .text : { *(.text) }\n INCLUDE other.lds\n}"),
        "test.lds:3: `INCLUDE` is not supported: it reads another script"
    );
    assert_eq!(
        parse_err("SECTIONS {\n .text : {\n *(.text)\n"),
        "test.lds:4: output section `.text` is never closed"
    );
    assert_eq!(
        parse_err("x = 1\ny = 2;"),
        "test.lds:2: expected `;` after the assignment, found `y`"
    );
    assert_eq!(
        parse_err("SECTIONS {\n .data : { CREATE_OBJECT_SYMBOLS }\n}"),
        "test.lds:2: `CREATE_OBJECT_SYMBOLS` is not supported: it defines a symbol per input \
         file"
    );
    assert_eq!(
        parse_err("SECTIONS {\n  OVERLAY : { .a { *(.a) } }\n}"),
        "test.lds:2: `OVERLAY` is not supported: overlays are not modelled"
    );
    assert_eq!(
        parse_err("SECTIONS {\n a = 1 +;\n}"),
        "test.lds:2: expected an expression, found `;`"
    );
    assert_eq!(
        parse_err("SECTIONS {\n a = ( 1 ;\n}"),
        "test.lds:2: expected `)` to close `(`, found `;`"
    );
    assert_eq!(parse_err("\n\n@"), "test.lds:3: unexpected character `@`");
    assert_eq!(
        parse_err("SECTIONS {\n .x : { a = AT; }\n}"),
        "test.lds:2: `AT` is a keyword and cannot be used as a symbol in an expression"
    );
    assert_eq!(
        parse_err("GROUP(libc.a)"),
        "test.lds:1: `GROUP` is not supported: it adds link inputs"
    );
}

#[test]
fn body_is_the_text_between_the_braces() {
    let text = "SECTIONS {\n . = ALIGN(4096);\n .data..percpu 0 : AT(ADDR(.data..percpu) - 0x10) { __per_cpu_start = .; *(.data..percpu..first) . = ALIGN(64); *(.data..percpu) } :percpu\n /DISCARD/ : {*(.discard)}\n}\n";
    let script = parse(text);
    let bodies: Vec<&str> = sections(&script)
        .iter()
        .map(|s| &text[s.body.clone()])
        .collect();
    assert_eq!(
        bodies,
        [
            " __per_cpu_start = .; *(.data..percpu..first) . = ALIGN(64); *(.data..percpu) ",
            "*(.discard)"
        ]
    );
}

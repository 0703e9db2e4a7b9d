/**
 * The 8 task families and their topics. A topic is the unit of a model's skill (./latent.ts)
 * and of the prompt's vocabulary: every prompt is written from its topic's words and templates,
 * and its difficulty level (0 easy .. 3 hard) shows in the text as length, extra steps,
 * distractors and hedged wording. So a text encoder can recover what drives the outcomes.
 */
import type { Rng } from "../../util/rng.js";
import type { DatasetName, Skill } from "./calibration.js";
import { MORAL_SCENARIOS, SUBJECTS, mmluItem } from "./mmlu.js";
import { NAMES, capitalise, fill, int, lettered, pick, pickDistinct } from "./text.js";

export type ScoreKind = "binary" | "quarters" | "tenths";

export interface Topic {
  /** Unique topic name, e.g. `mmlu-anatomy` or `grade-school-math/percentages`. */
  readonly name: string;
  readonly dataset: DatasetName;
  readonly eval: string;
  readonly skills: Partial<Record<Skill, number>>;
  /** Topic difficulty offset (logit units). */
  readonly mu: number;
  /** Relative frequency within its family. */
  readonly weight: number;
  make(r: Rng, level: number): string;
}

export interface Family {
  readonly dataset: DatasetName;
  readonly score: ScoreKind;
  readonly topics: readonly Topic[];
}

// ---------------------------------------------------------------- MMLU
const mmluTopics: Topic[] = [...SUBJECTS, MORAL_SCENARIOS].map((s) => ({
  name: `mmlu-${s.id}`,
  dataset: "mmlu",
  eval: `mmlu-${s.id}`,
  skills: s.skills,
  mu: s.mu,
  weight: 1,
  make: (r: Rng, level: number) => mmluItem(r, s, level),
}));

// ---------------------------------------------------------------- HellaSwag
interface Activity {
  id: string;
  skills: Partial<Record<Skill, number>>;
  mu: number;
  titles: string[];
  actors: string[];
  setups: string[];
  endings: string[];
  odd: string[];
}

// Per activity, titles[i], setups[i] and endings[i] describe one scene; `odd` are absurd endings.
const ACTIVITIES: Activity[] = [
  {
    id: "cooking", skills: { commonsense: 1 }, mu: -0.8,
    titles: ["Baking cookies", "Preparing pasta", "Making a lemonade", "Making a sandwich"],
    actors: ["A woman", "A man", "A chef", "A young girl", "An old man", "A teenage boy", "A woman in an apron"],
    setups: ["cracks two eggs into a glass bowl and whisks them.", "pours water into a large pot and sets it on the stove.", "cuts a lemon in half on a wooden board.", "lays two slices of bread on a plate."],
    endings: ["stirs the mixture and pours it into a baking tray.", "adds salt to the boiling water and drops in the pasta.", "squeezes the lemon halves into a pitcher of water.", "spreads butter on the bread and adds a slice of cheese."],
    odd: ["throws the bowl across the room and starts to sing.", "puts the pot on their head and walks outside.", "paints the counter with the lemon juice.", "jumps into the sink and swims."],
  },
  {
    id: "sports", skills: { commonsense: 1 }, mu: -0.2,
    titles: ["Playing tennis", "Skiing", "Shot put", "Kayaking"],
    actors: ["A man", "A teenager", "An athlete", "A woman in a red jacket", "A young boy", "A coach", "A girl in a helmet"],
    setups: ["stands on a clay court bouncing a ball before serving.", "glides down a snowy slope and turns sharply.", "spins around in a circle holding a heavy ball at the neck.", "paddles a kayak through fast white water."],
    endings: ["tosses the ball up and hits it over the net.", "stops at the bottom of the hill and lifts the goggles.", "releases the ball and it lands far down the field.", "steers around a rock and continues downstream."],
    odd: ["lies down on the court and begins reading a newspaper.", "takes off the skis and starts to eat them.", "hands the ball to a dog who rolls it away.", "climbs out of the river and paints the kayak."],
  },
  {
    id: "home-and-garden", skills: { commonsense: 1, reading: 0.3 }, mu: 0.4,
    titles: ["How to repot a plant", "How to unclog a drain", "How to paint a wall", "How to hang a shelf"],
    actors: ["You"],
    setups: ["remove the plant gently from its old pot and loosen the roots.", "pour half a cup of baking soda down the drain.", "tape the edges of the wall and cover the floor with a sheet.", "mark the position of the brackets with a pencil and a level."],
    endings: ["place the plant in the new pot and fill it with fresh soil.", "follow it with a cup of vinegar and wait fifteen minutes.", "apply the first coat with a roller, working from top to bottom.", "drill pilot holes at the marks and screw in the brackets."],
    odd: ["plant the pot upside down on the roof of the car.", "pour the vinegar into the television.", "paint the sheet and hang it in the bedroom closet.", "throw the level out of the window and call a taxi."],
  },
  {
    id: "personal-care", skills: { commonsense: 1, social: 0.4 }, mu: 0.1,
    titles: ["Braiding hair", "How to shave your face", "Applying makeup", "How to tie a tie"],
    actors: ["A girl", "A man", "A woman", "A stylist", "A young man", "A teenage girl", "An older woman"],
    setups: ["sits in front of a mirror and divides the hair into three sections.", "applies shaving cream evenly to the jaw.", "puts a small amount of foundation on a sponge.", "drapes the tie around the neck with the wide end longer."],
    endings: ["crosses the sections over one another down to the ends.", "shaves slowly in the direction of the hair growth.", "blends the foundation outward from the centre of the face.", "crosses the wide end over the narrow end and loops it through."],
    odd: ["cuts the mirror in half with the scissors.", "eats the shaving cream and laughs at the camera.", "puts the sponge in the oven.", "ties the tie around the lamp and leaves."],
  },
  {
    id: "music", skills: { commonsense: 1, humanities: 0.3 }, mu: 0.6,
    titles: ["Playing the violin", "Playing drums", "Tuning a guitar", "Playing the piano"],
    actors: ["A boy", "A man with a beard", "A woman", "A musician on a stage", "A little girl", "A street performer", "A student"],
    setups: ["raises the bow and places it on the strings.", "sits behind a drum set and adjusts the stool.", "turns the tuning peg while plucking the low string.", "places both hands on the keys and looks at the sheet music."],
    endings: ["plays a slow melody while the audience listens.", "counts in and starts playing a steady beat.", "plucks the string again and listens to the pitch.", "begins to play the piece, moving both hands along the keyboard."],
    odd: ["uses the bow to stir a pot of soup.", "kicks the drums off the stage and leaves.", "throws the guitar into a swimming pool.", "closes the piano and starts to paint it blue."],
  },
];

/** Scene-setting sentences that lengthen harder contexts without giving the answer away. */
const SCENE = ["The camera zooms in on the hands.", "A few people stand around watching.", "The video shows each step slowly.", "Text on the screen names the next step.", "The room is bright and quiet."];

function hellaswagItem(r: Rng, a: Activity, level: number): string {
  const actor = pick(r, a.actors);
  const i = int(r, 0, a.setups.length - 1);
  const ctx = [`${actor} ${a.setups[i]}`, ...pickDistinct(r, SCENE, Math.max(0, level - 1))];
  const right = a.endings[i];
  // Easy items have absurd distractors; hard ones have plausible endings from the same activity.
  const nPlausible = Math.min(3, level);
  const distract = [...pickDistinct(r, a.endings.filter((e) => e !== right), nPlausible), ...pickDistinct(r, a.odd, 3 - nPlausible)];
  const subject = actor === "You" ? "you" : actor.replace(/^(A|An) /, "the ");
  const options = pickDistinct(r, [right, ...distract], 4).map((e) => `${subject} ${e}`);
  return `${a.titles[i]}: ${ctx.join(" ")}\nWhich ending makes the most sense? Answer with the letter.\n${lettered(options.map(capitalise))}\nAnswer:`;
}

const hellaswagTopics: Topic[] = ACTIVITIES.map((a) => ({
  name: `hellaswag/${a.id}`, dataset: "hellaswag", eval: "hellaswag", skills: a.skills, mu: a.mu, weight: 1,
  make: (r: Rng, level: number) => hellaswagItem(r, a, level),
}));

// ---------------------------------------------------------------- GSM8K
type Gsm = (r: Rng, level: number) => string;
const ITEMS = ["apples", "notebooks", "cupcakes", "marbles", "stickers", "pencils", "tickets", "eggs"];
const STEP_EXTRA = [
  "Then {n} gives away {k} of them to a friend.",
  "On the next day, {n} buys {k} more.",
  "Later, {k} of them turn out to be damaged and are thrown away.",
  "Finally, {n} splits what is left equally between 2 boxes.",
];
function extraSteps(r: Rng, level: number, n: string): string {
  // Keep the steps in story order ("Then" .. "Finally").
  const chosen = pickDistinct(r, STEP_EXTRA, Math.max(0, level - 1)).sort((a, b) => STEP_EXTRA.indexOf(a) - STEP_EXTRA.indexOf(b));
  return chosen.map((s) => fill(r, s, { n, k: int(r, 2, 9) })).join(" ");
}

const GSM: { id: string; skills: Partial<Record<Skill, number>>; mu: number; make: Gsm }[] = [
  {
    id: "shopping", skills: { quant: 1 }, mu: -0.7,
    make: (r, level) => {
      const n = pick(r, NAMES);
      const it = pick(r, ITEMS);
      return `${n} buys ${int(r, 3, 12)} ${it} for $${int(r, 1, 6)} each and pays with a $${pick(r, [20, 50, 100])} bill. ${extraSteps(r, level, n)} How much change does ${n} get, in dollars?`;
    },
  },
  {
    id: "rates", skills: { quant: 1 }, mu: 0.1,
    make: (r, level) => {
      const n = pick(r, NAMES);
      const extra = level >= 2 ? ` After a ${int(r, 10, 40)}-minute break, ${n} drives back at ${int(r, 30, 60)} miles per hour.` : "";
      return `${n} drives at ${int(r, 40, 70)} miles per hour for ${int(r, 2, 5)} hours.${extra} ${level >= 3 ? "What is the average speed for the whole trip, including the break, in miles per hour?" : "How many miles does " + n + " drive?"}`;
    },
  },
  {
    id: "percentages", skills: { quant: 1 }, mu: 0.5,
    make: (r, level) => {
      const n = pick(r, NAMES);
      const p = pick(r, [10, 15, 20, 25, 30, 40]);
      const price = int(r, 20, 200);
      const tax = level >= 2 ? ` A sales tax of ${pick(r, [5, 8, 10])}% is then added to the discounted price.` : "";
      const more = level >= 3 ? ` ${n} also uses a coupon worth $${int(r, 3, 10)} after tax.` : "";
      return `A jacket costs $${price}. The store offers a ${p}% discount.${tax}${more} How much does ${n} pay for the jacket?`;
    },
  },
  {
    id: "fractions", skills: { quant: 1 }, mu: 0.3,
    make: (r, level) => {
      const n = pick(r, NAMES);
      const m = pick(r, NAMES.filter((x) => x !== n));
      const tot = int(r, 4, 20) * 12;
      return `${n} has ${tot} ${pick(r, ITEMS)}. ${n} gives 1/${pick(r, [3, 4, 6])} of them to ${m} and 1/${pick(r, [2, 3])} of the rest to a neighbour. ${extraSteps(r, level, n)} How many are left?`;
    },
  },
  {
    id: "ages", skills: { quant: 1, reading: 0.4 }, mu: 0.9,
    make: (r, level) => {
      const [a, b, c] = pickDistinct(r, NAMES, 3);
      const x = int(r, 2, 4);
      const y = int(r, 3, 12);
      const third = level >= 2 ? ` ${c} is ${int(r, 2, 9)} years younger than the sum of their ages.` : "";
      return `${a} is ${x} times as old as ${b}. In ${y} years, ${a} will be ${int(r, 30, 60)} years old.${third} How old is ${level >= 2 ? c : b} now?`;
    },
  },
  {
    id: "measurement", skills: { quant: 1, science: 0.3 }, mu: -0.1,
    make: (r, level) => {
      const n = pick(r, NAMES);
      const w = int(r, 3, 15);
      const l = int(r, 5, 25);
      const border = level >= 2 ? ` ${n} leaves a path ${int(r, 1, 2)} feet wide around the edge unplanted.` : "";
      const cost = level >= 1 ? ` Each bag of soil covers ${pick(r, [4, 5, 10])} square feet and costs $${int(r, 3, 9)}.` : "";
      return `${n} is building a rectangular garden bed ${w} feet wide and ${l} feet long.${border}${cost} ${level >= 1 ? "How much will the soil cost?" : "What is the area of the garden bed in square feet?"}`;
    },
  },
];

const gsmTopics: Topic[] = GSM.map((g) => ({
  name: `grade-school-math/${g.id}`, dataset: "grade-school-math", eval: "grade-school-math", skills: g.skills, mu: g.mu, weight: 1,
  make: (r: Rng, level: number) => `Solve the following math problem step by step and give the final answer as a number.\n\nQuestion: ${g.make(r, level).replace(/\s+/g, " ").trim()}`,
}));

// ---------------------------------------------------------------- ARC-Challenge
const ARC: { id: string; skills: Partial<Record<Skill, number>>; mu: number; qs: string[]; opts: string[] }[] = [
  {
    id: "earth-science", skills: { science: 1 }, mu: -0.3,
    qs: ["Which process is most responsible for the formation of {x}?", "A student finds {x} in a layer of sedimentary rock. What does this most likely indicate?", "Which of these best explains how {x} formed over many years?"],
    opts: ["weathering and erosion", "the movement of tectonic plates", "deposition by a river", "volcanic activity", "glaciers carving the land", "the water cycle", "fossils of marine animals", "compaction of sediments"],
  },
  {
    id: "life-science", skills: { science: 1 }, mu: -0.6,
    qs: ["Which structure helps {x} survive in a cold climate?", "Which of these is an inherited trait of {x}?", "What is the main source of energy for {x}?"],
    opts: ["thick fur", "the colour of its eyes", "sunlight", "learning to find food", "a layer of fat", "producing spores", "eating other organisms", "migrating south in winter"],
  },
  {
    id: "physical-science", skills: { science: 1, quant: 0.4 }, mu: 0.4,
    qs: ["A student pushes {x} across the floor. Which change would require more force?", "Which property of {x} can be measured with a balance?", "When {x} is heated, which of the following happens to its particles?"],
    opts: ["increasing the mass", "its mass", "they move faster", "decreasing the friction", "its volume", "they get smaller", "they stop moving", "lowering the temperature"],
  },
  {
    id: "space-and-weather", skills: { science: 1 }, mu: 0.0,
    qs: ["Which statement best explains why {x} occurs?", "Which instrument would a scientist use to study {x}?", "What causes {x} on Earth?"],
    opts: ["the tilt of Earth's axis", "the rotation of Earth", "a barometer", "a telescope", "the gravitational pull of the Moon", "uneven heating of the air", "the distance from the Sun", "clouds blocking sunlight"],
  },
];
const ARC_X: Record<string, string[]> = {
  "earth-science": ["a canyon", "a delta", "a mountain range", "sand dunes", "a cave"],
  "life-science": ["a polar bear", "a maple tree", "a frog", "a mushroom", "a honeybee"],
  "physical-science": ["a box of books", "a block of ice", "a metal spoon", "a wooden cart", "a balloon"],
  "space-and-weather": ["the seasons", "day and night", "ocean tides", "a thunderstorm", "a lunar eclipse"],
};

const arcTopics: Topic[] = ARC.map((a) => ({
  name: `arc-challenge/${a.id}`, dataset: "arc-challenge", eval: "arc-challenge", skills: a.skills, mu: a.mu, weight: 1,
  make: (r: Rng, level: number) => {
    const x = pick(r, ARC_X[a.id]);
    let q = fill(r, pick(r, a.qs), { x });
    if (level >= 2) q = `A class is investigating ${x}. ${q}`;
    if (level >= 3) q = `${q} Use evidence from the investigation to support your answer.`;
    return `Question: ${q}\n${lettered(pickDistinct(r, a.opts, 4))}\nAnswer with the letter of the best choice.`;
  },
}));

// ---------------------------------------------------------------- Winogrande
const WINO: { id: string; skills: Partial<Record<Skill, number>>; mu: number; make: (r: Rng, level: number) => [string, string, string] }[] = [
  {
    id: "social", skills: { commonsense: 1, social: 0.6 }, mu: 0,
    make: (r, level) => {
      const [a, b] = pickDistinct(r, NAMES, 2);
      const s = pick(r, [
        `${a} always lent money to ${b}, because _ had a steady job.`,
        `${a} apologised to ${b} after the argument, since _ felt guilty about what was said.`,
        `${a} asked ${b} for advice about the interview because _ had never had one before.`,
        `${a} was jealous of ${b} at the party because _ had fewer friends there.`,
      ]);
      const hedge = level >= 2 ? " even though nobody expected it" : "";
      return [s.replace(/\.$/, `${hedge}.`), a, b];
    },
  },
  {
    id: "physical", skills: { commonsense: 1, science: 0.3 }, mu: 0.3,
    make: (r, level) => {
      const [x, y] = pick(r, [["trophy", "suitcase"], ["bottle", "bag"], ["table", "doorway"], ["book", "shelf"], ["cake", "box"], ["sofa", "van"], ["laptop", "backpack"], ["pot", "cupboard"], ["bicycle", "shed"], ["painting", "frame"], ["guitar", "case"], ["turkey", "oven"]]);
      const s = pick(r, [
        `The ${x} would not fit into the ${y} because the _ was too large.`,
        `The ${x} fit easily into the ${y} because the _ was so roomy.`,
        `I moved the ${x} off the ${y} since the _ was starting to wobble.`,
        `${pick(r, NAMES)} could not get the ${x} into the ${y}, because the _ was too small.`,
      ]);
      const extra = level >= 2 ? ` ${capitalise(pick(r, NAMES))} tried twice before giving up.` : "";
      return [`${s}${extra}`, x, y];
    },
  },
];

const winoTopics: Topic[] = WINO.map((w) => ({
  name: `winogrande/${w.id}`, dataset: "winogrande", eval: "winogrande", skills: w.skills, mu: w.mu, weight: 1,
  make: (r: Rng, level: number) => {
    const [s, o1, o2] = w.make(r, level);
    const lead = level >= 3 ? "Read carefully; the blank may refer to either option.\n" : "";
    return `${lead}Fill in the blank (_) with the option that makes the most sense.\nSentence: ${s}\nOption 1: ${o1}\nOption 2: ${o2}\nAnswer with 1 or 2.`;
  },
}));

// ---------------------------------------------------------------- MBPP
const MBPP: { id: string; skills: Partial<Record<Skill, number>>; mu: number; tasks: [string, string][] }[] = [
  {
    id: "strings", skills: { code: 1 }, mu: -0.6,
    tasks: [["reverse the words in a given string", "reverse_words(\"hello world\") == \"world hello\""], ["count the vowels in a string", "count_vowels(\"python\") == 1"], ["check whether a string is a palindrome", "is_palindrome(\"level\") == True"], ["remove all whitespace from a string", "remove_spaces(\" a b c \") == \"abc\""]],
  },
  {
    id: "lists", skills: { code: 1 }, mu: -0.2,
    tasks: [["find the second largest number in a list", "second_largest([1, 5, 3, 9]) == 5"], ["remove duplicates from a list while keeping order", "dedupe([1, 2, 1, 3]) == [1, 2, 3]"], ["rotate a list to the right by k positions", "rotate([1, 2, 3, 4], 1) == [4, 1, 2, 3]"], ["flatten a nested list", "flatten([1, [2, [3]]]) == [1, 2, 3]"]],
  },
  {
    id: "math", skills: { code: 1, quant: 0.6 }, mu: 0.4,
    tasks: [["find the nth Fibonacci number", "fib(10) == 55"], ["check whether a number is prime", "is_prime(13) == True"], ["compute the greatest common divisor of two numbers", "gcd(12, 18) == 6"], ["find the sum of the digits of a number", "digit_sum(1234) == 10"]],
  },
  {
    id: "data-structures", skills: { code: 1, reading: 0.3 }, mu: 0.8,
    tasks: [["sort a list of tuples by their second element", "sort_by_second([(1, 3), (2, 1)]) == [(2, 1), (1, 3)]"], ["merge two dictionaries, adding values of common keys", "merge({'a': 1}, {'a': 2, 'b': 3}) == {'a': 3, 'b': 3}"], ["find the k most frequent elements of a list", "top_k([1, 1, 2, 2, 2, 3], 2) == [2, 1]"], ["group a list of words by their first letter", "group(['ant', 'bee', 'ape']) == {'a': ['ant', 'ape'], 'b': ['bee']}"]],
  },
  {
    id: "regex", skills: { code: 1, reading: 0.3 }, mu: 1.0,
    tasks: [["extract all email addresses from a text using regex", "extract_emails(\"a@b.com, c@d.org\") == ['a@b.com', 'c@d.org']"], ["check whether a string is a valid IPv4 address", "valid_ip(\"192.168.0.1\") == True"], ["replace multiple spaces with a single space using regex", "squash(\"a   b\") == \"a b\""], ["find all words that start with a capital letter", "capitals(\"Alice met Bob\") == ['Alice', 'Bob']"]],
  },
];

const mbppTopics: Topic[] = MBPP.map((m) => ({
  name: `mbpp/${m.id}`, dataset: "mbpp", eval: "mbpp", skills: m.skills, mu: m.mu, weight: 1,
  make: (r: Rng, level: number) => {
    const [task, test] = pick(r, m.tasks);
    const constraint = level >= 2 ? pick(r, [" The function must not use any imported modules.", " Handle empty input by returning None.", " Do it in a single pass over the input."]) : "";
    const tests = level >= 1 ? `\nYour code should pass these tests:\nassert ${test}` : "";
    const lead = pick(r, ["Write a python function to", "Write a function to", "Write a Python function that will", "Create a python function to", "Write a short python function to"]);
    return `${lead} ${task}.${constraint}${tests}`;
  },
}));

// ---------------------------------------------------------------- MT-Bench
const MTB: { id: string; skills: Partial<Record<Skill, number>>; mu: number; prompts: string[] }[] = [
  { id: "writing", skills: { writing: 1 }, mu: -0.6, prompts: ["Compose an engaging travel blog post about a recent trip to {p}, highlighting cultural experiences and must-see attractions.", "Write a persuasive email to convince your introverted friend to volunteer as a guest speaker at {p}.", "Draft a short story that begins with a character discovering a hidden door in {p}."] },
  { id: "roleplay", skills: { writing: 1, social: 0.5 }, mu: -0.3, prompts: ["Pretend you are a tour guide in {p}. Greet a group of tourists and describe what they will see today.", "Act as a sommelier at a restaurant in {p} and recommend a wine for a customer's dinner.", "Imagine you are a detective arriving at a crime scene in {p}. Describe your first observations."] },
  { id: "reasoning", skills: { quant: 0.5, reading: 0.5 }, mu: 0.8, prompts: ["Imagine you are participating in a race in {p}. You have just overtaken the second person. What is your current position, and where is the person you just overtook?", "Each problem consists of three statements about the weather in {p}. Based on the first two statements, is the third true, false, or uncertain?"] },
  { id: "math", skills: { quant: 1 }, mu: 0.9, prompts: ["The vertices of a triangle are at points (0, 0), (-1, 1), and (3, 3). What is the area of the triangle? A school in {p} asks you to explain each step.", "A tech startup in {p} invests $8000 in software development in the first year, and then half that amount in the second year. What is the total amount invested over the two years?"] },
  { id: "coding", skills: { code: 1 }, mu: 0.6, prompts: ["Develop a Python program that reads all the text files under a directory and returns the top-5 words with the most occurrences. The files come from a library in {p}.", "Write a C++ program to find the nth Fibonacci number using recursion, and explain its running time."] },
  { id: "extraction", skills: { reading: 1 }, mu: 0.0, prompts: ["Extract the names of the companies, their CEOs and the amounts mentioned in the following news summary from {p}, and return them as JSON.", "Given the following reviews of a hotel in {p}, rate each on a scale of 1 to 5 and return the results as a list of integers."] },
  { id: "stem", skills: { science: 1 }, mu: 0.2, prompts: ["Explain the process of photosynthesis and its two main stages, as you would to a student in {p}.", "Describe how a superconducting magnet works and why it must be cooled, for a science museum in {p}."] },
  { id: "humanities", skills: { humanities: 1, writing: 0.4 }, mu: -0.1, prompts: ["Discuss the main economic consequences of the industrial revolution in {p}.", "Compare the philosophies of Confucius and Socrates, and explain how each might view modern education in {p}."] },
];
const PLACES = ["Hawaii", "Kyoto", "Lisbon", "Nairobi", "Reykjavik", "Buenos Aires", "a small mountain town", "the city"];

const mtTopics: Topic[] = MTB.map((m) => ({
  name: `mt-bench/${m.id}`, dataset: "mt-bench", eval: "mt-bench", skills: m.skills, mu: m.mu, weight: 1,
  make: (r: Rng, level: number) => {
    const base = fill(r, pick(r, m.prompts), { p: PLACES });
    const follow = level >= 2 ? pick(r, [" Then rewrite your answer in fewer than 100 words.", " Afterwards, critique your own answer and improve it.", " Make every sentence start with a different letter."]) : "";
    return `${base}${follow}`;
  },
}));

// ---------------------------------------------------------------- RAG
const RAG: { id: string; skills: Partial<Record<Skill, number>>; mu: number; facts: string[]; qs: string[] }[] = [
  { id: "finance", skills: { reading: 1, quant: 0.4 }, mu: 0.3, facts: ["The company reported quarterly revenue of $4.2 billion, up 12% from a year earlier.", "Its operating margin fell to 18% because of higher shipping costs.", "The board approved a share buyback of $500 million.", "The central bank held interest rates at 5.25% for the third meeting in a row."], qs: ["By what percentage did revenue grow?", "Why did the operating margin fall?", "What did the board approve?"] },
  { id: "sports", skills: { reading: 1 }, mu: -0.5, facts: ["The home team won the final 3-1 after extra time.", "Their striker scored twice and was named player of the match.", "The match was played in front of 68,000 spectators.", "The coach said the team would rest several players next week."], qs: ["What was the final score?", "Who was named player of the match?", "How many spectators attended?"] },
  { id: "science-tech", skills: { reading: 1, science: 0.5 }, mu: 0.2, facts: ["Researchers announced a battery that charges to 80% in ten minutes.", "The prototype uses a silicon anode instead of graphite.", "Mass production is not expected before 2027.", "The team published its results in a peer-reviewed journal."], qs: ["What material does the prototype use for its anode?", "When is mass production expected?", "How fast does the battery charge?"] },
  { id: "policy", skills: { reading: 1, law: 0.5 }, mu: 0.6, facts: ["The new regulation requires platforms to remove illegal content within 24 hours.", "Fines can reach 6% of global annual turnover.", "Small companies with fewer than 50 employees are exempt from some duties.", "The rules take effect eighteen months after publication."], qs: ["How quickly must platforms remove illegal content?", "Which companies are exempt from some duties?", "What is the maximum fine?"] },
];

const RAG_SOURCES = ["Reuters", "AP", "BBC News", "Bloomberg", "The Guardian", "company press release", "Financial Times", "local newspaper"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

const ragTopics: Topic[] = RAG.map((g) => ({
  name: `rag-qa/${g.id}`, dataset: "rag-qa", eval: "rag-qa", skills: g.skills, mu: g.mu, weight: 1,
  make: (r: Rng, level: number) => {
    const docs = pickDistinct(r, g.facts, Math.min(g.facts.length, 2 + level));
    const q = pick(r, g.qs);
    const multi = level >= 3 ? " If the documents do not contain the answer, say so." : "";
    const source = () => `(${pick(r, RAG_SOURCES)}, ${pick(r, MONTHS)} ${int(r, 2021, 2024)})`;
    return `Answer the question using only the retrieved documents.\n\n${docs.map((d, i) => `[Document ${i + 1}] ${source()} ${d}`).join("\n")}\n\nQuestion: ${q}${multi}`;
  },
}));

export const FAMILIES: readonly Family[] = [
  { dataset: "mmlu", score: "binary", topics: mmluTopics },
  { dataset: "hellaswag", score: "binary", topics: hellaswagTopics },
  { dataset: "grade-school-math", score: "quarters", topics: gsmTopics },
  { dataset: "arc-challenge", score: "binary", topics: arcTopics },
  { dataset: "winogrande", score: "binary", topics: winoTopics },
  // The real RouterBench MBPP rows score 0/1 (every cell of the 427 5-shot rows), so binary here.
  { dataset: "mbpp", score: "binary", topics: mbppTopics },
  { dataset: "mt-bench", score: "tenths", topics: mtTopics },
  { dataset: "rag-qa", score: "binary", topics: ragTopics },
];

export const ALL_TOPICS: readonly Topic[] = FAMILIES.flatMap((f) => f.topics);

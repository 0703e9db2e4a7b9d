/**
 * MMLU-like subjects. Each subject is one topic (eval `mmlu-<id>`): its vocabulary fills the
 * question stems and options, and the difficulty level shows in the text (a scenario preamble,
 * negated "NOT"/"EXCEPT" stems, compound options), as it does in the real set's harder items.
 */
import type { Rng } from "../../util/rng.js";
import type { Skill } from "./calibration.js";
import { capitalise, fill, int, lettered, pick, pickDistinct } from "./text.js";

export interface Subject {
  id: string;
  title: string;
  skills: Partial<Record<Skill, number>>;
  /** Topic difficulty (logit units; the family's mean is absorbed by calibration). */
  mu: number;
  terms: string[];
  answers: string[];
  stems: string[];
  /** Scenario sentences for harder items; `{t}` is a term. */
  contexts: string[];
  /** Optional numeric item maker (quantitative subjects). */
  numeric?: (r: Rng, level: number) => { question: string; options: string[] };
}

/** The right value and three distractors near it, all distinct (also for x = 0). */
const num = (r: Rng, x: number, digits = 2) => {
  const opts = new Set<string>([x.toFixed(digits)]);
  for (let k = 1; opts.size < 4; k++) opts.add((x * (0.4 + r() * 1.4) + (r() < 0.3 ? k : 0)).toFixed(digits));
  return pickDistinct(r, [...opts], 4);
};

export const SUBJECTS: Subject[] = [
  {
    id: "abstract-algebra", title: "abstract algebra", skills: { quant: 1 }, mu: 1.2,
    terms: ["the symmetric group S_4", "the cyclic group Z_12", "a normal subgroup", "the quotient ring Z[x]/(x^2+1)", "a field extension of Q", "the kernel of a homomorphism", "an integral domain", "the polynomial x^3 + 2x + 1 over Z_3", "a finite abelian group", "the alternating group A_5"],
    answers: ["It is cyclic", "It is isomorphic to Z_2 x Z_6", "It has order 24", "It is a principal ideal domain", "It is irreducible", "It contains a unique Sylow subgroup", "Its degree is 4", "It is not simple", "It has characteristic 3", "Every element has finite order"],
    stems: ["Which of the following is true of {t}?", "Find the correct statement about {t}.", "Statement 1 | {t} is abelian. Statement 2 | {u} is a field. Which is correct?"],
    contexts: ["Let G be a group and H a subgroup of index 2.", "Let R be a commutative ring with unity.", "Consider the homomorphism phi from Z_24 onto Z_6."],
    numeric: (r, level) => {
      const n = pick(r, [6, 8, 12, 15, 18, 20, 24, 30, 36]);
      const k = pick(r, [2, 3, 4, 5]);
      const q = level >= 2
        ? `Find the order of the element (${k}, ${k + 1}) in Z_${n} x Z_${k * 2}, given that the group operation is componentwise addition.`
        : `Find the degree of the field extension Q(sqrt(${k}), sqrt(${n})) over Q.`;
      return { question: q, options: pickDistinct(r, ["0", "1", "2", "4", "6", "8", "12", `${n}`], 4) };
    },
  },
  {
    id: "college-mathematics", title: "college mathematics", skills: { quant: 1 }, mu: 0.8,
    terms: ["the matrix [[2, 1], [1, 2]]", "the series sum of 1/n^2", "the function f(x) = x e^{-x}", "a 3 x 3 orthogonal matrix", "the differential equation y'' + y = 0", "the integral of ln(x) from 1 to e", "a continuous function on [0, 1]", "the sequence a_n = (1 + 1/n)^n"],
    answers: ["It converges to pi^2/6", "Its eigenvalues are 1 and 3", "It attains a maximum at x = 1", "Its determinant is +1 or -1", "Its general solution is A cos x + B sin x", "It equals 1", "It is uniformly continuous", "It converges to e"],
    stems: ["Which of the following is true of {t}?", "What can be concluded about {t}?", "For {t}, which statement must hold?"],
    contexts: ["Let V be a finite-dimensional real vector space.", "Suppose f is differentiable on the open interval (0, 2).", "A point is chosen uniformly at random from the unit square."],
    numeric: (r, level) => {
      const a = int(r, 2, 9);
      const b = int(r, 2, 9);
      const q = level >= 2
        ? `If the polynomial x^3 - ${a}x^2 + ${b}x - ${a * b} has roots r, s and t, what is r^2 + s^2 + t^2?`
        : `What is the value of the integral of ${a}x^2 + ${b} from 0 to 1?`;
      const x = level >= 2 ? a * a - 2 * b : a / 3 + b;
      return { question: q, options: num(r, x) };
    },
  },
  {
    id: "high-school-physics", title: "high school physics", skills: { quant: 0.6, science: 0.6 }, mu: 0.2,
    terms: ["a block sliding down a frictionless incline", "a ball thrown straight up", "two resistors in parallel", "a convex lens", "a satellite in circular orbit", "a pendulum on the Moon", "an ideal spring", "sound travelling from air into water"],
    answers: ["Its acceleration is constant", "Its kinetic energy doubles", "The equivalent resistance decreases", "The image is real and inverted", "Its period increases", "Its speed is independent of its mass", "Its frequency stays the same", "Momentum is conserved"],
    stems: ["Which of the following is true of {t}?", "What happens to {t} when its mass is doubled?", "Which statement best describes {t}?"],
    contexts: ["Air resistance is negligible.", "The system is isolated and starts at rest.", "A student records the motion with a motion sensor."],
    numeric: (r, level) => {
      const m = int(r, 2, 12);
      const v = int(r, 3, 20);
      const h = int(r, 5, 40);
      const q = level >= 2
        ? `A ${m} kg cart moving at ${v} m/s collides with and sticks to an identical cart at rest. How much kinetic energy (in J) is lost in the collision?`
        : `A ${m} kg object falls from a height of ${h} m. What is its speed just before it hits the ground, in m/s? (g = 9.8 m/s^2)`;
      const x = level >= 2 ? (m * v * v) / 4 : Math.sqrt(2 * 9.8 * h);
      return { question: q, options: num(r, x, 1) };
    },
  },
  {
    id: "college-chemistry", title: "college chemistry", skills: { science: 1, quant: 0.4 }, mu: 0.7,
    terms: ["the hydrogen atom's 2p orbital", "a buffer of acetic acid and sodium acetate", "the reaction N2 + 3H2 -> 2NH3", "a first-order decay", "the molecule SF4", "an SN2 reaction", "a galvanic cell", "the EPR spectrum of a methyl radical"],
    answers: ["It has one angular node", "Its pH equals the pKa", "Increasing pressure shifts it to the right", "Its half-life is independent of concentration", "It has a see-saw geometry", "It proceeds with inversion of configuration", "Its cell potential is positive", "It shows four lines"],
    stems: ["Which of the following is true of {t}?", "Which statement about {t} is correct?", "Predict the behaviour of {t}."],
    contexts: ["Assume ideal behaviour at 298 K.", "The reaction is carried out in a closed vessel.", "A chemist measures the rate at several concentrations."],
  },
  {
    id: "high-school-computer-science", title: "high school computer science", skills: { code: 1 }, mu: -0.4,
    terms: ["binary search", "a recursive factorial function", "a linked list", "the hexadecimal number 2F", "a for loop that runs n times inside another", "an array of n integers", "a stack", "a boolean expression (a AND NOT b)"],
    answers: ["It runs in O(log n) time", "It uses O(n) memory on the call stack", "Insertion at the head takes constant time", "It equals 47 in decimal", "It runs in O(n^2) time", "Access by index takes constant time", "It is last in, first out", "It is true only when a is true and b is false"],
    stems: ["Which of the following is true of {t}?", "What is the best description of {t}?", "A programmer uses {t}. Which statement is correct?"],
    contexts: ["Consider the following code segment.", "Assume the list is already sorted.", "A program stores student records in memory."],
  },
  {
    id: "computer-security", title: "computer security", skills: { code: 0.7, science: 0.3 }, mu: 0,
    terms: ["a buffer overflow", "a SQL injection", "TLS certificate pinning", "a cross-site scripting attack", "a stack canary", "the principle of least privilege", "a timing side channel", "two-factor authentication"],
    answers: ["It can overwrite the return address", "It is prevented by parameterised queries", "It defeats a man-in-the-middle with a rogue CA", "It runs attacker script in the victim's browser", "It detects stack smashing before return", "It limits the damage of a compromise", "It leaks secrets through execution time", "It adds something the user has"],
    stems: ["Which of the following best describes {t}?", "What is the main purpose of {t}?", "Which statement about {t} is true?"],
    contexts: ["An attacker controls the input to a web form.", "A server runs a C program with root privileges.", "The network between client and server is untrusted."],
  },
  {
    id: "machine-learning", title: "machine learning", skills: { quant: 0.6, code: 0.5 }, mu: 0.6,
    terms: ["L2 regularisation", "a decision tree with unlimited depth", "k-nearest neighbours with k = 1", "dropout", "the EM algorithm", "a support vector machine", "batch normalisation", "a convolutional layer"],
    answers: ["It reduces variance at the cost of bias", "It has zero training error", "It overfits noisy data", "It acts as an ensemble of subnetworks", "It increases the likelihood at every step", "It maximises the margin", "It stabilises the input distribution of each layer", "It shares weights across positions"],
    stems: ["Which of the following is true of {t}?", "Statement 1 | {t} reduces overfitting. Statement 2 | {u} is a linear model. Which is correct?", "What is a property of {t}?"],
    contexts: ["The training set has 1,000 examples and 50 features.", "The validation error is much higher than the training error.", "The classes are linearly separable."],
  },
  {
    id: "anatomy", title: "anatomy", skills: { medicine: 1 }, mu: 0,
    terms: ["the phrenic nerve", "the femoral artery", "the hypoglossal nerve", "the rotator cuff", "the carpal tunnel", "the sternocleidomastoid", "the pituitary gland", "the mitral valve"],
    answers: ["It arises from C3 to C5", "It passes through the adductor canal", "It innervates the muscles of the tongue", "It includes the supraspinatus", "It contains the median nerve", "It rotates the head to the opposite side", "It sits in the sella turcica", "It lies between the left atrium and ventricle"],
    stems: ["Which of the following is true of {t}?", "Where is {t} found?", "Damage to {t} would most likely cause which of the following?"],
    contexts: ["A patient presents after a fall onto an outstretched hand.", "During a dissection, a student traces a structure.", "A surgeon must avoid a structure in the neck."],
  },
  {
    id: "clinical-knowledge", title: "clinical knowledge", skills: { medicine: 1 }, mu: -0.3,
    terms: ["a patient with a blood glucose of 2.5 mmol/L", "hand hygiene", "a pressure ulcer", "the Glasgow Coma Scale", "a nasogastric tube", "a blood transfusion reaction", "an adult pulse of 45 beats per minute", "capillary refill time"],
    answers: ["Give oral glucose if the patient can swallow", "It is the most effective way to prevent infection", "Reposition the patient regularly", "It ranges from 3 to 15", "Check its position before each feed", "Stop the transfusion immediately", "It is called bradycardia", "It is normally under two seconds"],
    stems: ["Which of the following is correct about {t}?", "What is the first action for {t}?", "Which statement about {t} is true?"],
    contexts: ["A nurse is caring for an elderly patient on a medical ward.", "The patient has type 1 diabetes.", "The observation chart shows a falling blood pressure."],
  },
  {
    id: "high-school-biology", title: "high school biology", skills: { science: 1 }, mu: -0.6,
    terms: ["mitochondria", "natural selection", "a recessive allele", "photosynthesis", "the cell membrane", "DNA replication", "an enzyme", "a food web"],
    answers: ["They produce most of the cell's ATP", "It acts on variation in a population", "It is expressed only when homozygous", "It converts light energy into chemical energy", "It is selectively permeable", "It is semiconservative", "It lowers the activation energy", "It shows the flow of energy between organisms"],
    stems: ["Which of the following is true of {t}?", "What is the role of {t}?", "Which best describes {t}?"],
    contexts: ["A population of beetles lives on dark tree bark.", "A student observes cells under a microscope.", "A cross is made between two heterozygous plants."],
  },
  {
    id: "professional-law", title: "professional law", skills: { law: 1, reading: 0.6 }, mu: 1.0,
    terms: ["the hearsay rule", "adverse possession", "the parol evidence rule", "a bilateral contract", "the exclusionary rule", "strict liability", "a fee simple determinable", "promissory estoppel"],
    answers: ["The statement is inadmissible", "The owner has lost title", "The evidence of the oral agreement is excluded", "Both parties exchange promises", "The evidence must be suppressed", "The defendant is liable regardless of fault", "The estate ends automatically", "The promise is enforceable despite lacking consideration"],
    stems: ["Which of the following is the most likely outcome under {t}?", "How should the court rule, applying {t}?", "Which is the strongest argument based on {t}?"],
    contexts: [
      "A landowner conveyed a parcel to a school district so long as it is used for educational purposes; twenty years later the district began using it for storage.",
      "A buyer and a seller signed a written agreement for the sale of a car, but before signing they orally agreed that the seller would replace the tyres.",
      "Police officers searched the defendant's garage without a warrant after an anonymous tip, and found stolen goods.",
      "A homeowner kept a pet tiger in a fenced yard; the tiger escaped and injured a neighbour who was trimming a hedge.",
    ],
  },
  {
    id: "high-school-us-history", title: "high school US history", skills: { humanities: 1, reading: 0.5 }, mu: -0.2,
    terms: ["the Missouri Compromise", "the New Deal", "the Monroe Doctrine", "the Seneca Falls Convention", "Reconstruction", "the Marshall Plan", "the Progressive Era", "the Great Migration"],
    answers: ["It balanced free and slave states", "It expanded the federal role in the economy", "It warned Europe against new colonisation", "It called for women's suffrage", "It aimed to reintegrate the Southern states", "It gave economic aid to Western Europe", "It sought to correct the abuses of industrialisation", "It moved African Americans to Northern cities"],
    stems: ["Which of the following best describes {t}?", "{t} was most directly a response to which of the following?", "Which statement about {t} is most accurate?"],
    contexts: ["This question refers to the following passage from a nineteenth-century speech.", "Historians have debated the long-term effects of the policy.", "The excerpt below is from a newspaper editorial of the period."],
  },
  {
    id: "philosophy", title: "philosophy", skills: { humanities: 1, reading: 0.4 }, mu: 0.3,
    terms: ["Kant's categorical imperative", "utilitarianism", "Descartes' cogito", "Hume's problem of induction", "Plato's theory of Forms", "Aristotle's virtue ethics", "the veil of ignorance", "Mill's harm principle"],
    answers: ["Act only on maxims you can will as universal law", "Maximise overall happiness", "Certainty of one's own existence", "Past regularities cannot justify predictions", "True reality consists of abstract ideals", "Virtue is a mean between extremes", "Choose principles without knowing one's place", "Power may be exercised only to prevent harm to others"],
    stems: ["Which of the following best captures {t}?", "According to {t}, which of the following is true?", "Which statement would a defender of {t} accept?"],
    contexts: ["Consider the following argument.", "A critic objects that the view leads to counterintuitive results.", "The passage below is from a classic text."],
  },
  {
    id: "world-religions", title: "world religions", skills: { humanities: 1 }, mu: -0.9,
    terms: ["the Five Pillars of Islam", "the Eightfold Path", "the Torah", "the Vedas", "Sikhism's Guru Granth Sahib", "the Tao Te Ching", "Shinto kami", "the Christian sacrament of baptism"],
    answers: ["They include prayer and fasting", "It leads to the end of suffering", "It contains the first five books of the Hebrew Bible", "They are the oldest Hindu scriptures", "It is treated as a living guru", "It is attributed to Laozi", "They are spirits of nature", "It marks entry into the church"],
    stems: ["Which of the following describes {t}?", "What is {t}?", "Which statement about {t} is correct?"],
    contexts: ["A student is comparing religious traditions.", "The question concerns religious practice.", "Scholars describe the following tradition."],
  },
  {
    id: "marketing", title: "marketing", skills: { social: 1 }, mu: -1.1,
    terms: ["market segmentation", "a loss leader", "the product life cycle", "brand equity", "penetration pricing", "a focus group", "word-of-mouth marketing", "the marketing mix"],
    answers: ["Dividing a market into groups of similar buyers", "Selling below cost to attract customers", "Introduction, growth, maturity and decline", "The value a brand name adds", "Setting a low initial price to gain share", "A small group discussion used in research", "Customers recommending a product to others", "Product, price, place and promotion"],
    stems: ["Which of the following is {t}?", "What is meant by {t}?", "Which best describes {t}?"],
    contexts: ["A company is launching a new sports drink.", "A retailer wants to attract more shoppers.", "A manager reviews the results of a survey."],
  },
  {
    id: "high-school-geography", title: "high school geography", skills: { social: 1 }, mu: -1.0,
    terms: ["urban sprawl", "the demographic transition model", "a primate city", "desertification", "the Sahel", "a subsistence farmer", "push and pull factors", "an ethnic enclave"],
    answers: ["Low-density growth at a city's edge", "Falling death rates then falling birth rates", "A city much larger than any other in the country", "Land turning into desert", "A semi-arid belt south of the Sahara", "A farmer who grows food mainly for the family", "Reasons people leave and are attracted to places", "A neighbourhood dominated by one ethnic group"],
    stems: ["Which of the following is an example of {t}?", "What is {t}?", "Which statement best describes {t}?"],
    contexts: ["A map shows population density by county.", "A country's birth rate has fallen sharply.", "Migrants are moving from rural areas to the capital."],
  },
  {
    id: "professional-psychology", title: "professional psychology", skills: { social: 1, medicine: 0.3 }, mu: 0.2,
    terms: ["informed consent", "test-retest reliability", "cognitive behavioural therapy", "the duty to warn", "a double-blind study", "systematic desensitisation", "confidentiality with a minor client", "a Type II error"],
    answers: ["Clients must understand and agree to treatment", "Scores are stable across time", "It targets thoughts and behaviours", "The psychologist must protect an identifiable victim", "Neither participants nor raters know the condition", "Gradual exposure paired with relaxation", "Parents may have a right to information", "Failing to reject a false null hypothesis"],
    stems: ["According to the APA Ethics Code, which is true of {t}?", "Which of the following best describes {t}?", "What should a psychologist do regarding {t}?"],
    contexts: ["A licensed psychologist is treating a 15-year-old client.", "A researcher is designing an evaluation of a new therapy.", "A client discloses a plan to harm a former partner."],
  },
];

/** MMLU's moral-scenarios has its own fixed shape (two scenarios, four Wrong/Not wrong options). */
const MORAL_ACTS = {
  ok: ["I returned the wallet I found to the lost-and-found desk", "I helped my neighbour carry her groceries upstairs", "I told my friend the truth about the dent in his car", "I paid for my coffee even though the cashier forgot to charge me", "I walked my dog and picked up after it"],
  wrong: ["I took the tip that the previous customer left for the waiter", "I read my sister's diary and posted it online", "I told the teacher my classmate cheated when I had cheated", "I parked in the disabled space because I was in a hurry", "I let the door slam in the face of the elderly man behind me"],
};

export const MORAL_SCENARIOS: Subject = {
  id: "moral-scenarios", title: "moral scenarios", skills: { commonsense: 0.6, humanities: 0.4, reading: 0.4 }, mu: 1.4,
  terms: [], answers: [], stems: [], contexts: [],
};

export function moralScenarioItem(r: Rng, level: number): { question: string; options: string[] } {
  const a = pick(r, r() < 0.5 ? MORAL_ACTS.ok : MORAL_ACTS.wrong);
  const b = pick(r, r() < 0.5 ? MORAL_ACTS.ok : MORAL_ACTS.wrong);
  const tail = level >= 2 ? ", according to ordinary moral standards in the US as of 2020" : "";
  return {
    question: `For which of these two scenarios does the main character (who uses I/me/my) do something clearly morally wrong${tail}? Scenario 1 | ${a}. Scenario 2 | ${b}.`,
    options: ["Wrong, Wrong", "Wrong, Not wrong", "Not wrong, Wrong", "Not wrong, Not wrong"],
  };
}

export function mmluItem(r: Rng, s: Subject, level: number): string {
  let question: string;
  let options: string[];
  if (s.id === MORAL_SCENARIOS.id) {
    ({ question, options } = moralScenarioItem(r, level));
  } else if (s.numeric && r() < 0.35) {
    ({ question, options } = s.numeric(r, level));
  } else {
    const [t, u] = pickDistinct(r, s.terms, 2);
    question = fill(r, pick(r, s.stems), { t, u });
    if (level >= 2 && r() < 0.5) question = question.replace(/^Which of the following (is|best)/, "Which of the following is NOT");
    options = pickDistinct(r, s.answers, 4);
    if (level >= 3) {
      const extra = pickDistinct(r, s.answers, 4);
      options = options.map((o, i) => `${o}, and ${extra[i].charAt(0).toLowerCase()}${extra[i].slice(1)}`);
    }
  }
  const parts: string[] = [];
  if (level >= 1 && s.contexts.length) parts.push(pick(r, s.contexts));
  if (level >= 3 && s.contexts.length > 1) parts.push(pick(r, s.contexts));
  parts.push(capitalise(question));
  const header = `The following is a multiple choice question about ${s.title}. Answer with the letter of the correct option.`;
  return `${header}\n\n${parts.join(" ")}\n${lettered(options)}\nAnswer:`;
}
